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
const S3Object = require('@20minutes/s3rver/lib/models/object')
const FilesystemStore = require('@20minutes/s3rver/lib/stores/filesystem')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { pipeline, Readable, Transform } = require('node:stream')

// s3rver writes an object's file in place, so a GET during a PUT of the
// same key could read half of it; S3 replaces an object atomically.  Write
// to a temporary file beside it and rename it over the object.
FilesystemStore.prototype.putContent = function (objectPath, content) {
  const tmp = `${objectPath}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.part`
  return new Promise((resolve, reject) => {
    const md5 = crypto.createHash('md5')
    let total = 0
    const count = new Transform({
      transform(chunk, encoding, callback) {
        md5.update(chunk, encoding)
        total += chunk.length
        callback(null, chunk)
      },
    })
    const src = Buffer.isBuffer(content) ? Readable.from([content]) : content
    pipeline(src, count, fs.createWriteStream(tmp), (err) => {
      if (err) return fs.rm(tmp, { force: true }, () => reject(err))
      fs.rename(tmp, objectPath, (e) => (e ? reject(e) : resolve([total, md5.digest('hex')])))
    })
  })
}

// And s3rver's GET takes the size from one look at the file and the bytes
// from another, which may be a newer object: read both from one open file.
FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  let fh
  try {
    fh = await fs.promises.open(this.getResourcePath(bucket, key, 'object'), 'r')
  } catch (err) {
    if (err.code === 'ENOENT') return null
    throw err
  }
  try {
    const st = await fh.stat()
    const metadata = await this.getMetadata(bucket, key)
    metadata['content-length'] = st.size
    metadata['last-modified'] = st.mtime.toUTCString()
    const lastByte = Math.max(0, st.size - 1)
    const range = {
      start: options?.start || 0,
      end: Math.min(options?.end || Infinity, lastByte),
    }
    const ranged = options && (options.start !== undefined || options.end)
    if (range.start < 0 || range.end < range.start) {
      await fh.close()
      const object = new S3Object(bucket, key, null, metadata)
      if (ranged) object.range = range
      return object
    }
    const object = new S3Object(bucket, key, fh.createReadStream({ ...range, autoClose: true }),
      metadata)
    if (ranged) object.range = range
    return object
  } catch (err) {
    await fh.close().catch(() => {})
    if (err.code === 'ENOENT') return null
    throw err
  }
}

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
