// @segment/analytics-node's cold path, as benchmarks/compare.py's COLD_OURS: require, construct, one
// track, close. Run: node node_cold.cjs URL NODE_MODULES_DIR; prints {"import_s": ..., "cold_s": ...}
const t0 = performance.now()
const path = require('path')
const [url, modules] = [process.argv[2], process.argv[3]]
const { Analytics } = require(path.join(modules, '@segment/analytics-node'))
const imported = performance.now()
async function main() {
  const analytics = new Analytics({ writeKey: 'bench', host: url })
  analytics.track({ userId: 'u', event: 'Cold Start' })
  await analytics.closeAndFlush({ timeout: 60000 })
  const done = performance.now()
  console.log(JSON.stringify({ import_s: (imported - t0) / 1000, cold_s: (done - t0) / 1000 }))
}
main()
