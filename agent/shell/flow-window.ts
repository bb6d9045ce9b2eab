/** The window moved to channel/ so the backend's file streams use the same one; kept here for the shell's imports. */
export * from '../../channel/flow-window.js';
