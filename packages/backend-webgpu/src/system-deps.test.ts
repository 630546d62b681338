import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../scripts/ensure-system-deps.sh');

function installed(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

// Only where the packages are already present: otherwise running the script would install them.
const READY = ['libvulkan1', 'mesa-vulkan-drivers', 'chromium'].every((p) => installed(p).startsWith('install ok installed'));

describe.skipIf(!READY)('scripts/ensure-system-deps.sh', () => {
  it('is idempotent and quick when lavapipe, libvulkan1 and chromium are installed', () => {
    const t0 = performance.now();
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(performance.now() - t0).toBeLessThan(3000);
    // Mesa from bookworm-backports: Dawn rejects bookworm's Mesa 22.
    expect(installed('mesa-vulkan-drivers')).toMatch(/ (2[5-9]|[3-9]\d)\./);
  });
});
