// @segment/analytics-node: batches of 100. Run: node node_client.cjs EVENTS URL NODE_MODULES_DIR
const path = require('path')
const [events, url, modules] = [Number(process.argv[2]), process.argv[3], process.argv[4]]
const { Analytics } = require(path.join(modules, '@segment/analytics-node'))
const properties = {
  revenue: 39.95, currency: 'EUR', shipping: '2-day', coupon: 'WINTER-2026',
  items: [{ sku: 'A-1001', name: 'Wool hat', qty: 2, price: 14.5 }, { sku: 'B-2002', name: 'Scarf', qty: 1, price: 10.95 }],
}
const fair = (process.env.BENCH_WORKLOAD || 'fair') === 'fair'
function propertiesOf(i) {  // as benchmarks/clients/common.py: fresh per call, 9 keys
  if (!fair) return properties
  return {
    quantity: i % 7 + 1, sku: `SKU-${i}`, price: 1.5 + (i % 1000) * 0.01, gift: i % 2 === 0, coupon: null,
    tags: ['winter', `t${i % 10}`, 'sale'], currency: 'EUR', category: 'hats',
    shipping: { method: '2-day', cost: 4.95, express: i % 3 === 0, zone: i % 8 },
  }
}
async function main() {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const analytics = new Analytics({ writeKey: 'bench', host: url, flushAt: 100 })
  let failed = 0
  analytics.on('error', () => { failed += 1 })
  for (let i = 0; i < events; i++) {
    analytics.track({ userId: '019mr8mf4r', event: 'Item Purchased', properties: propertiesOf(i) })
  }
  const calls = (performance.now() - t0) / 1000
  await analytics.closeAndFlush({ timeout: 600000 })
  const cpu = process.cpuUsage(cpu0)
  console.log(JSON.stringify({
    calls_s: calls, total_s: (performance.now() - t0) / 1000, cpu_s: (cpu.user + cpu.system) / 1e6,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, failed,
  }))
}
main()
