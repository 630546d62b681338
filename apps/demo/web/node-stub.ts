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
export const mkdtemp = unavailable('mkdtemp');
export const rm = unavailable('rm');
export const writeFile = unavailable('writeFile');
export const resolve = (...parts: string[]): string => join(...parts);
export const basename = (p: string): string => p.replace(/\/+$/, '').replace(/^.*\//, '');
// Synchronous file access (read-on-demand weights in the CLI runtime) and the rest of what Node code commonly imports.
export const openSync = unavailable('openSync');
export const closeSync = unavailable('closeSync');
export const readSync = unavailable('readSync');
export const fstatSync = unavailable('fstatSync');
export const statSync = unavailable('statSync');
export const readFileSync = unavailable('readFileSync');
export const writeFileSync = unavailable('writeFileSync');
export const readdirSync = unavailable('readdirSync');
export const mkdirSync = unavailable('mkdirSync');
export const rmSync = unavailable('rmSync');
export const readdir = unavailable('readdir');
export const copyFile = unavailable('copyFile');
export const relative = (from: string, to: string): string => (to.startsWith(`${from}/`) ? to.slice(from.length + 1) : to);
export const sep = '/';
export const homedir = (): string => '/';
export default {
  existsSync, join, dirname, basename, resolve, relative, sep, tmpdir, homedir, readFile, writeFile, mkdir, mkdtemp, open, rename, rm, unlink, stat, readdir, copyFile,
  mkdtempSync, openSync, closeSync, readSync, fstatSync, statSync, readFileSync, writeFileSync, readdirSync, mkdirSync, rmSync,
};
