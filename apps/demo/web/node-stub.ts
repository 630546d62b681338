// Browser stand-ins for the few Node built-ins that file-reading code in the shared packages imports.
// The page never reads files: presets are built in memory, so these only have to exist.
class BrowserFileError extends Error {
  constructor(what: string) {
    super(`${what} is not available in the browser; the web demo builds its model and data in memory`);
  }
}

const unavailable =
  (what: string) =>
  (..._args: unknown[]): never => {
    throw new BrowserFileError(what);
  };

export const existsSync = (): boolean => false;
export const join = (...parts: string[]): string => parts.filter(Boolean).join('/').replace(/\/+/g, '/');
export const dirname = (p: string): string => p.replace(/\/[^/]*$/, '') || '/';
export const tmpdir = (): string => '/tmp';
export const readFile = unavailable('readFile');
export const mkdir = unavailable('mkdir');
export const open = unavailable('open');
export const rename = unavailable('rename');
export const unlink = unavailable('unlink');
export const stat = unavailable('stat');
export const mkdtempSync = unavailable('mkdtempSync');
export default { existsSync, join, dirname, tmpdir, readFile, mkdir, open, rename, unlink, stat, mkdtempSync };
