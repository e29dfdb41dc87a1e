export * from './naming';
export * from './stage-config';
export * from './validate';
