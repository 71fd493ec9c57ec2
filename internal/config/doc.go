// Package config is sfbridge's configuration: a versioned YAML file
// (version: 1) decoded into Config, with its defaults and its validation.
// docs/configuration.md is the reference for every key.
//
// The contract:
//
//   - Strict: an unknown key, a value of the wrong type, a bad duration or
//     size, an unknown enum value is an error. Decoding walks the yaml.Node
//     tree itself, so it reports every such problem, not the first.
//   - All at once: Load returns either a valid *Config or an error. A file
//     that is missing, unreadable, empty or not YAML, or that declares a
//     version other than 1, is one line. Everything else is a *Problems
//     listing every problem — decoding and validation together — each with
//     its YAML path and line: "syncs[1].external_id: required (line 42)".
//   - Secrets: string values may contain ${env:NAME} and ${file:/path}
//     references ($${ is a literal ${). A reference that cannot be resolved
//     is a problem naming the variable or file. Credentials are held in
//     Secret, whose every printed or encoded form is "[REDACTED]"; no
//     problem message, Summary, fmt verb, JSON, YAML or slog output of a
//     Config contains a secret's value. Nor does a problem repeat any value
//     that came from a reference, even in a non-secret key; it names the
//     reference instead (a flow or source type that is one of the allowed
//     words may still be named in problems about other keys).
//   - Defaults in one place: defaults.go. A key left out (or null) gets its
//     default; a key written with an explicit zero is validated as written.
//   - No I/O beyond reading the config file and its ${file:…} references:
//     Validate connects to nothing. `sfbridge check` (later) does that.
//
// Relative paths (data_dir, a files source's folders, ${file:…}) are relative
// to the directory of the config file.
package config
