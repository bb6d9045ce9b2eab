import { describe, expect, it } from 'vitest';
import { lineOf, pointerLines, syntaxErrorLine } from './json-lines.js';

const TEXT = `{
  "agent": {
    "samplingIntervalMs": 1,
    "logSources": [
      "/var/log/syslog",
      "a,b]}"
    ]
  },
  "app/x": { "n": [1, {"deep": true}] }
}
`;

describe('pointerLines', () => {
  it('finds each key and array element by line, escaped keys and tricky strings included', () => {
    const lines = pointerLines(TEXT);
    expect(lines.get('/agent')).toBe(2);
    expect(lines.get('/agent/samplingIntervalMs')).toBe(3);
    expect(lines.get('/agent/logSources/0')).toBe(5);
    expect(lines.get('/agent/logSources/1')).toBe(6);
    expect(lines.get('/app~1x/n/1/deep')).toBe(9);
  });

  it("reports a missing key at its nearest ancestor's line", () => {
    expect(lineOf(pointerLines(TEXT), '/agent/shellUser')).toBe(2);
    expect(lineOf(pointerLines(TEXT), '/nope/deeper')).toBe(1);
  });

  it("reads the line of JSON.parse's own error, in the wordings engines use", () => {
    const bad = '{\n  "a": 1,\n  "b": \n}';
    expect(syntaxErrorLine(bad, 'Unexpected token \'}\', "... is not valid JSON (line 4 column 1)')).toBe(4);
    expect(syntaxErrorLine(bad, 'Unexpected token } in JSON at position 20')).toBe(4);
    expect(syntaxErrorLine('{\n  "a": ', 'Unexpected end of JSON input')).toBe(2);
    expect(syntaxErrorLine(bad, 'Unexpected token')).toBeNull();
  });
});
