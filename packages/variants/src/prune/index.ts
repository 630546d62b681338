export { MagnitudeRankPruner, pruneLoraByMagnitude, type MagnitudePruneOptions } from './magnitude.js';
