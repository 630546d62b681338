import { defineOp } from './registry.js';

// Graph leaves whose values come from feeds: declared so every node's op is known.
defineOp({ name: 'input', kind: 'source', flops: () => 0 });
defineOp({ name: 'param', kind: 'source', flops: () => 0 });
