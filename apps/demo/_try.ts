import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serveDirectory } from './src/web-test/serve-static.ts';
const server = await serveDirectory('/work/main/apps/demo/web/dist');
const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/chr-'), { executablePath: '/usr/bin/chromium', headless: true, args: ['--enable-unsafe-webgpu','--no-sandbox','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
const page = await ctx.newPage();
page.on('pageerror', (e) => console.log('pageerror:', e.message));
await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
for (const m of ['lora-drop']) {
  await page.selectOption('#method', m);
  await page.fill('#steps', '5');
  const t = Date.now();
  await page.click('#train');
  await page.waitForFunction(() => ['trained','error'].includes((globalThis as any).lowrankDemo.status), undefined, { timeout: 300000 });
  const st = await page.evaluate(() => (globalThis as any).lowrankDemo);
  console.log(m, (Date.now()-t)/1000, st.status, st.error, st.losses, st.heldOutBefore, st.heldOutAfter, await page.textContent('#status'));
  await page.click('#gen');
  await page.waitForFunction(() => ['done','error'].includes((globalThis as any).lowrankDemo.status), undefined, { timeout: 300000 });
  console.log(await page.evaluate(() => JSON.stringify([(globalThis as any).lowrankDemo.generated, (globalThis as any).lowrankDemo.error])), await page.textContent('#status'));
}
await ctx.close(); server.close();
