# SPDX-License-Identifier: MIT
module AcpStorage
  VERSION = "0.1.0"
end
