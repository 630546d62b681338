import { describe, expect, it } from 'vitest';
import { AdapterConfigError } from './errors.js';
import { fullMatch, layerIndexOf, patternKey, pythonRegexSource, selectsModule, type TargetRules } from './target-selection.js';

const rules = (target_modules: readonly string[] | string, more: Partial<TargetRules> = {}): TargetRules => ({
  target_modules,
  exclude_modules: null,
  modules_to_save: null,
  layers_to_transform: null,
  layers_pattern: null,
  ...more,
});

describe("PEFT's module selection (check_target_module_exists)", () => {
  // [key, target_modules, layers_to_transform, layers_pattern, selected], worked out from PEFT's rules.
  const cases: [string, readonly string[] | string, number[] | null, string[] | null, boolean][] = [
    ['foo', ['foo'], null, null, true],
    ['foo', ['bar'], null, null, false],
    ['foo', 'foo', null, null, true],
    ['foo', '.*oo', null, null, true],
    ['foo', '.*bar.*', null, null, false],
    ['foobar', '.*oba.*', null, null, true],
    ['foobar', 'oba', null, null, false],
    ['a.foo', ['foo'], null, null, true],
    ['afoo', ['foo'], null, null, false],
    ['foo.bar.1.baz', ['baz'], [1], ['bar'], true],
    ['foo.bar.1.baz', ['baz'], [0], ['bar'], false],
    ['foo.bar.1.baz', ['baz'], [1], ['baz'], false],
    ['foo.bar.1.baz', ['baz'], [1], null, true],
    ['foo.bar.1.baz', ['baz'], [1], ['ba.'], true],
    // PEFT's pattern needs a dot before the layer list's name and after the index.
    ['bar.1.baz', ['baz'], [1], ['bar'], false],
    ['foo.bar.1', ['bar.1'], [1], null, false],
    // The last `.<name>.<N>.` decides without layers_pattern.
    ['m.blocks.0.layers.3.q', ['q'], [3], null, true],
    ['m.blocks.0.layers.3.q', ['q'], [0], null, false],
    // A regex target ignores layers_to_transform.
    ['foo.bar.1.baz', '.*baz', [0], null, true],
  ];
  for (const [key, target, layers, pattern, want] of cases) {
    it(`${key} with ${JSON.stringify(target)}, layers ${JSON.stringify(layers)}, pattern ${JSON.stringify(pattern)}: ${want}`, () => {
      expect(selectsModule(rules(target, { layers_to_transform: layers, layers_pattern: pattern }), key, false)).toBe(want);
    });
  }

  it('exclusions and modules_to_save win over targets; all-linear leaves out the output layer', () => {
    expect(selectsModule(rules(['q'], { exclude_modules: ['a.q'] }), 'x.a.q', false)).toBe(false);
    expect(selectsModule(rules(['q'], { exclude_modules: '.*\\.a\\.q' }), 'x.a.q', false)).toBe(false);
    expect(selectsModule(rules(['q'], { exclude_modules: 'a\\.q' }), 'x.a.q', false)).toBe(true);
    expect(selectsModule(rules(['dense'], { modules_to_save: ['score'] }), 'score.dense', false)).toBe(false);
    expect(selectsModule(rules('all-linear'), 'lm_head', true)).toBe(false);
    expect(selectsModule(rules('All-Linear'), 'model.layers.0.mlp.up_proj', false)).toBe(true);
    expect(selectsModule(rules('all-linear', { layers_to_transform: [1] }), 'model.layers.0.mlp.up_proj', false)).toBe(false);
  });

  it('layer indices, Python regex syntax, pattern keys', () => {
    expect(layerIndexOf('model.layers.12.self_attn.q_proj', null)).toBe(12);
    expect(layerIndexOf('model.layers.12.self_attn.q_proj', ['h', 'layers'])).toBe(12);
    expect(layerIndexOf('lm_head', null)).toBeNull();
    expect(pythonRegexSource('(?P<p>q|v)_proj(?P=p)\\Z')).toBe('(?<p>q|v)_proj\\k<p>$');
    expect(fullMatch('.*(?P<p>q|v)_proj', 'a.v_proj')).toBe(true);
    expect(patternKey(['q_proj', 'layers\\.0\\.self_attn\\.q_proj'], 'model.layers.0.self_attn.q_proj')).toBe('q_proj');
    expect(patternKey(['layers\\.0\\.self_attn\\.q_proj', 'q_proj'], 'model.layers.0.self_attn.q_proj')).toBe('layers\\.0\\.self_attn\\.q_proj');
    expect(patternKey(['_proj'], 'model.layers.0.self_attn.q_proj')).toBeUndefined();
    expect(() => fullMatch('(', 'x')).toThrow(AdapterConfigError);
  });
});
