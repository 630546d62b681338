import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

/**
 * Serves a built directory on 127.0.0.1 (an ephemeral port) for the browser test; `mounts` maps URL
 * prefixes (like '/demo-base/') to other directories, as the dev server serves the cached base model.
 */
export function serveDirectory(root: string, mounts: Readonly<Record<string, string>> = {}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0])).replace(/^(\.\.[/\\])+/, '');
    const mount = Object.keys(mounts).find((p) => path.startsWith(p));
    const file = mount ? join(mounts[mount], path.slice(mount.length)) : join(root, path.endsWith('/') ? `${path}index.html` : path);
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
