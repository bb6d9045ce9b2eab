// The window moved to channel/ so the backend's file and forward streams use the same one (backend may not import agent/).
export * from '../../channel/flow-window.js';
