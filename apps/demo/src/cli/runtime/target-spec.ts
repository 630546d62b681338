/**
 * `--target` as PEFT's target_modules: `all-linear`; a single value with
 * regex syntax in it (`.*\.(q|v)_proj`) is a regex matched against the whole
 * module path (PEFT's string form); otherwise a list of module names, each
 * matching a path equal to it or ending in `.name`. Module names never
 * contain regex syntax, so the two forms cannot be confused.
 */
export function targetModulesFromCli(targets: readonly string[]): string | string[] {
  if (targets.length === 1 && targets[0].toLowerCase() === 'all-linear') return 'all-linear';
  if (targets.length === 1 && /[\\*+?()[\]{}|^$]/.test(targets[0])) return targets[0];
  return [...targets];
}
