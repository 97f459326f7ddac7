/** YAML as escaped HTML with highlight.js's `hljs-*` classes. */
export function highlightYaml(text: string): string;
