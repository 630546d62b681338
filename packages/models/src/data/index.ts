export * from './errors.js';
export * from './rows.js';
export * from './tokenize.js';
export * from './sequences.js';
export * from './shuffle.js';
export * from './batches.js';
export * from './load.js';
