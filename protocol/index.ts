export * from './version.js';
export * from './errors.js';
export * from './control.js';
export * from './methods.js';
export * from './telemetry.js';
export * from './api.js';
export * from './console.js';
