"""Text rules, each with exactly one home: Hangul, numbers and Korean units, the Latin terms
inside Korean text, URLs, escaping of data inside prompt tags, Markdown escaping, translation-memory
normalisation, the glossary, and segments."""
