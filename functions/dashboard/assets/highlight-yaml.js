// YAML highlighted by highlight.js, as HTML (escaped) with hljs-* classes.
// A JavaScript module with its own declaration file: highlight.js's types pull in the DOM library
// (`/// <reference lib="dom">`), which must not leak into the Worker's TypeScript program.
import hljs from 'highlight.js/lib/core';
import yaml from 'highlight.js/lib/languages/yaml';

hljs.registerLanguage('yaml', yaml);

export function highlightYaml(text) {
  return hljs.highlight(text, { language: 'yaml' }).value;
}
