# SPDX-License-Identifier: MIT
module AcpStorage
  # Base of every error this gem raises.  #message is the library's message,
  # unchanged; #status is the numeric acp_status and #status_name its stable
  # upper-case name ("NOT_FOUND").
  class Error < StandardError
    STATUS = -1
    NAME = "UNKNOWN"

    def initialize(message = nil, status: nil)
      super(message)
      @status = status
    end

    def status
      @status || self.class::STATUS
    end

    def status_name
      self.class::NAME
    end
  end

  # One class per status of include/acp_storage_status.h.
  {
    "NotFound" => [1, "NOT_FOUND"], "Invalid" => [2, "INVALID"], "Conflict" => [3, "CONFLICT"],
    "Unavailable" => [4, "UNAVAILABLE"], "IOError" => [5, "IO"], "Corrupt" => [6, "CORRUPT"],
    "NoMemory" => [7, "NOMEM"], "Unsupported" => [8, "UNSUPPORTED"], "LoadError" => [9, "LOAD"],
    "PluginError" => [10, "PLUGIN"]
  }.each do |name, (code, status_name)|
    klass = Class.new(Error)
    klass.const_set(:STATUS, code)
    klass.const_set(:NAME, status_name)
    const_set(name, klass)
  end

  ERRORS_BY_STATUS = [NotFound, Invalid, Conflict, Unavailable, IOError, Corrupt, NoMemory,
                      Unsupported, LoadError, PluginError].to_h { |k| [k::STATUS, k] }.freeze

  # The exception for a status the library returned.
  def self.error_for(status, message)
    klass = ERRORS_BY_STATUS[status]
    klass ? klass.new(message) : Error.new(message, status: status)
  end
end
