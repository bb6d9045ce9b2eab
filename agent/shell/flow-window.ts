// The window moved to channel/ so the backend's forwards use the same one (backend may not import agent/).
export * from '../../channel/flow-window.js';
