// SPDX-License-Identifier: MIT
// serve.js DATA_DIR PORT BUCKET...: a real S3 server (@20minutes/s3rver,
// pinned by package-lock.json) on 127.0.0.1:PORT (0: a free port), objects
// kept in DATA_DIR, SigV4 signatures checked (access key S3RVER, secret
// S3RVER), the buckets created.  Prints "ready PORT" once it accepts
// requests.  The package ships no runnable bin, hence this starter.  Run it
// with `node --openssl-legacy-provider`: s3rver makes ListObjectsV2
// continuation tokens with DES, which OpenSSL 3 keeps in its legacy
// provider (without it every truncated listing is a 500 InternalError).
'use strict'
const S3rver = require('@20minutes/s3rver')

const [dir, port, ...buckets] = process.argv.slice(2)
const server = new S3rver({
  directory: dir,
  address: '127.0.0.1',
  port: Number(port || 0),
  silent: true,
  allowMismatchedSignatures: false,
  vhostBuckets: false,
  configureBuckets: buckets.map((name) => ({ name })),
})
server.run().then(
  (addr) => console.log(`ready ${addr.port}`),
  (err) => {
    console.error(`s3rver did not start: ${err.message}`)
    process.exit(1)
  }
)
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0))
