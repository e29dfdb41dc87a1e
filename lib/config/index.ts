export * from './env-settings';
export * from './naming';
export * from './stage-config';
export * from './validate';
export * from './validate-pipeline';
