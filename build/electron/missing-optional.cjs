// Stands in for ws's optional native add-ons (bufferutil, utf-8-validate) in the Electron main
// bundle: ws requires them inside try/catch and falls back to its JavaScript code when they throw.
throw new Error('optional native add-on not bundled');
