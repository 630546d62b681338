export * from './matrix.js';
export { qr } from './qr.js';
export { jacobiSvd, svdOfProduct, truncatedSvd, takeColumns, type Svd } from './svd.js';
