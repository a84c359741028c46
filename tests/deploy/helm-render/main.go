// Command helm-render renders a Helm chart the way `helm template` does, for test machines where
// helm itself cannot be installed (no Debian or npm package; building it needs Go modules from the
// network). It reproduces the parts of helm's engine that decide what a chart renders to: value
// coalescing (chart values.yaml, -f files, --set; null deletes a key), the objects templates see
// (.Values .Release .Chart .Capabilities .Template .Files), the function set (sprig v3 without
// env/expandenv, plus include tpl required fail toYaml fromYaml fromYamlArray toJson fromJson
// fromJsonArray lookup), missingkey=zero with "<no value>" removed, and helm's output format and
// install order. Not reproduced: subcharts, crds/, toToml, values.schema.json (the test library
// validates values with ajv before rendering).
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

// Mirrors helm's recursion guard for include, so a self-including template fails instead of
// exhausting the stack.
const maxIncludeDepth = 1000

// Metadata holds Chart.yaml; templates see it as .Chart with helm's field names.
type Metadata struct {
	Name         string            `json:"name"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []Maintainer      `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// Maintainer is one Chart.yaml maintainers entry.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Release is .Release as `helm template` fills it: a first install.
type Release struct {
	Name      string
	Namespace string
	IsUpgrade bool
	IsInstall bool
	Revision  int
	Service   string
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

// GitVersion is kept for charts written against helm 2's field name.
func (kv KubeVersion) GitVersion() string { return kv.Version }

// String lets `{{ .Capabilities.KubeVersion }}` print the version, as in helm.
func (kv KubeVersion) String() string { return kv.Version }

// VersionSet is .Capabilities.APIVersions: group/version and group/version/Kind strings.
type VersionSet []string

// Has reports whether the API version (or version/Kind) is available.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// HelmVersion is .Capabilities.HelmVersion; it names the helm release this renderer imitates.
type HelmVersion struct {
	Version      string
	GitCommit    string
	GitTreeState string
	GoVersion    string
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion HelmVersion
}

// Files is .Files: every chart file outside templates/ and the chart's own metadata files, keyed
// by its slash-separated path relative to the chart root.
type Files map[string][]byte

// Get returns a file's content, or "" when it does not exist (helm does not fail either).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's raw content.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Lines splits a file into lines, dropping the final newline's empty line.
func (f Files) Lines(name string) []string {
	content, ok := f[name]
	if !ok || len(content) == 0 {
		return []string{}
	}
	s := strings.TrimSuffix(string(content), "\n")
	return strings.Split(s, "\n")
}

// Glob returns the files whose path matches a glob pattern: `*` within a path segment, `**`
// across segments, `?`, `[...]` and `{a,b}` (the gobwas/glob syntax helm uses).
func (f Files) Glob(pattern string) (Files, error) {
	re, err := globToRegexp(pattern)
	if err != nil {
		return nil, err
	}
	out := Files{}
	for name, content := range f {
		if re.MatchString(name) {
			out[name] = content
		}
	}
	return out, nil
}

// AsConfig renders the files as ConfigMap data: base name → content, as YAML.
func (f Files) AsConfig() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for name, content := range f {
		m[path.Base(name)] = string(content)
	}
	return toYAML(m)
}

// AsSecrets renders the files as Secret data: base name → base64 content, as YAML.
func (f Files) AsSecrets() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for name, content := range f {
		m[path.Base(name)] = base64.StdEncoding.EncodeToString(content)
	}
	return toYAML(m)
}

func globToRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	inClass, braces := false, 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case inClass:
			if c == ']' {
				inClass = false
			}
			if c == '!' && pattern[i-1] == '[' {
				b.WriteByte('^')
			} else {
				b.WriteByte(c)
			}
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(string(pattern[i])))
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			i++
			b.WriteString(".*")
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			inClass = true
			b.WriteByte('[')
		case c == '{':
			braces++
			b.WriteString("(?:")
		case c == '}' && braces > 0:
			braces--
			b.WriteString(")")
		case c == ',' && braces > 0:
			b.WriteString("|")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if inClass || braces > 0 {
		return nil, fmt.Errorf("bad glob pattern %q", pattern)
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// ---- YAML/JSON helpers with helm's semantics --------------------------------------------------

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		// helm swallows the error here; templates rarely pass unmarshalable values.
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(str string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

// ---- values ------------------------------------------------------------------------------------

func readValuesFile(name string) (map[string]interface{}, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// mergeMaps merges -f files the way helm's CLI does: maps merge key by key, anything else (null
// included, so it can delete a chart default later) replaces.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce lays the user values over the chart defaults like helm's CoalesceValues: a user null
// deletes the default, tables merge recursively, other user values win.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	for key, def := range defaults {
		uv, present := user[key]
		switch {
		case !present:
			user[key] = deepCopy(def)
		case uv == nil:
			delete(user, key)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := def.(map[string]interface{})
			if uok && dok {
				user[key] = coalesce(um, dm)
			} else if dok && !uok {
				fmt.Fprintf(os.Stderr, "helm-render: warning: %s is a table in the chart's values but not in the given values; using the given value\n", key)
			}
		}
	}
	return user
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		a := make([]interface{}, len(t))
		for i, x := range t {
			a[i] = deepCopy(x)
		}
		return a
	default:
		return v
	}
}

// ---- --set parsing (helm's strvals, the common subset) -----------------------------------------

// splitUnescaped splits s at sep unless the separator is backslash-escaped or, for commas, inside
// a {a,b} list value.
func splitUnescaped(s string, sep byte, respectBraces bool) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if respectBraces && c == '{' {
			depth++
		} else if respectBraces && c == '}' && depth > 0 {
			depth--
		}
		if c == sep && depth == 0 {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// typedValue converts a --set value the way helm does: null, true/false and base-10 integers
// without a leading zero become typed; everything else (floats included) stays a string.
func typedValue(s string) interface{} {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if s == "0" {
		return int64(0)
	}
	if len(s) > 0 && s[0] != '0' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

var indexedKey = regexp.MustCompile(`^(.*?)\[(\d+)\]$`)

// applySet applies one --set argument (a.b=c,d[0].e=f,list={x,y}) to the user values.
func applySet(vals map[string]interface{}, arg string) error {
	for _, assignment := range splitUnescaped(arg, ',', true) {
		if assignment == "" {
			continue
		}
		kv := splitUnescaped(assignment, '=', false)
		if len(kv) < 2 {
			return fmt.Errorf("--set %q: key %q has no value", arg, assignment)
		}
		key, raw := kv[0], strings.Join(kv[1:], "=")
		var value interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			if inner := raw[1 : len(raw)-1]; inner != "" {
				for _, item := range splitUnescaped(inner, ',', false) {
					list = append(list, typedValue(unescape(item)))
				}
			}
			value = list
		} else {
			value = typedValue(unescape(raw))
		}
		if err := setPath(vals, splitUnescaped(key, '.', false), value); err != nil {
			return fmt.Errorf("--set %q: %w", arg, err)
		}
	}
	return nil
}

func setPath(vals map[string]interface{}, segments []string, value interface{}) error {
	seg := segments[0]
	last := len(segments) == 1
	if m := indexedKey.FindStringSubmatch(seg); m != nil {
		name, idx := unescape(m[1]), m[2]
		i, err := strconv.Atoi(idx)
		if err != nil || i > 65536 {
			return fmt.Errorf("bad list index in %q", seg)
		}
		list, _ := vals[name].([]interface{})
		for len(list) <= i {
			list = append(list, nil)
		}
		if last {
			list[i] = value
		} else {
			child, ok := list[i].(map[string]interface{})
			if !ok {
				child = map[string]interface{}{}
			}
			if err := setPath(child, segments[1:], value); err != nil {
				return err
			}
			list[i] = child
		}
		vals[name] = list
		return nil
	}
	name := unescape(seg)
	if name == "" {
		return errors.New("empty key segment")
	}
	if last {
		vals[name] = value
		return nil
	}
	child, ok := vals[name].(map[string]interface{})
	if !ok {
		child = map[string]interface{}{}
	}
	vals[name] = child
	return setPath(child, segments[1:], value)
}

// ---- chart loading -----------------------------------------------------------------------------

type chart struct {
	root      string
	meta      Metadata
	values    map[string]interface{}
	templates map[string]string // "<chart>/templates/<rel>" → source
	files     Files
}

// Paths helm's loader keeps out of .Files because they are the chart itself.
func isChartOwnFile(rel string) bool {
	switch rel {
	case "Chart.yaml", "values.yaml", "values.schema.json", "Chart.lock", "requirements.yaml", "requirements.lock":
		return true
	}
	return strings.HasPrefix(rel, "templates/") || strings.HasPrefix(rel, "charts/") || strings.HasPrefix(rel, "crds/")
}

// helmignore holds the .helmignore rules: glob lines matched against the path and its base
// name, a trailing / for directories only, ! to re-include.
type helmignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern string
	negate  bool
	dirOnly bool
}

func loadHelmignore(root string) (*helmignore, error) {
	h := &helmignore{}
	data, err := os.ReadFile(filepath.Join(root, ".helmignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	} else if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimSuffix(line, "/")
		}
		r.pattern = strings.TrimPrefix(line, "/")
		if _, err := path.Match(r.pattern, "x"); err != nil {
			return nil, fmt.Errorf(".helmignore: bad pattern %q", line)
		}
		h.rules = append(h.rules, r)
	}
	return h, nil
}

func (h *helmignore) ignored(rel string, isDir bool) bool {
	ignored := false
	for _, r := range h.rules {
		if r.dirOnly && !isDir {
			continue
		}
		match, _ := path.Match(r.pattern, rel)
		if !match && !strings.Contains(r.pattern, "/") {
			match, _ = path.Match(r.pattern, path.Base(rel))
		}
		if match {
			ignored = !r.negate
		}
	}
	return ignored
}

func loadChart(root string) (*chart, error) {
	data, err := os.ReadFile(filepath.Join(root, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("not a chart: %w", err)
	}
	c := &chart{root: root, templates: map[string]string{}, files: Files{}}
	if err := yaml.UnmarshalStrict(data, &c.meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if c.meta.APIVersion == "" || c.meta.Name == "" || c.meta.Version == "" {
		return nil, errors.New("Chart.yaml: apiVersion, name and version are required")
	}
	if len(c.meta.Dependencies) > 0 {
		return nil, errors.New("Chart.yaml: dependencies (subcharts) are not supported by helm-render")
	}
	if c.meta.Type == "" {
		c.meta.Type = "application"
	}
	c.values = map[string]interface{}{}
	if data, err := os.ReadFile(filepath.Join(root, "values.yaml")); err == nil {
		if err := yaml.Unmarshal(data, &c.values); err != nil {
			return nil, fmt.Errorf("values.yaml: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ignore, err := loadHelmignore(root)
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel == "charts" {
				entries, _ := os.ReadDir(p)
				if len(entries) > 0 {
					return errors.New("charts/: subcharts are not supported by helm-render")
				}
			}
			return nil
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			c.templates[c.meta.Name+"/"+rel] = string(content)
		} else if !isChartOwnFile(rel) && rel != ".helmignore" {
			c.files[rel] = content
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ---- rendering ---------------------------------------------------------------------------------

// parseOrder is helm's: deepest paths first, then reverse lexical, so for a name defined twice
// the definition in the lexically first file (parsed last) wins.
func parseOrder(names []string) []string {
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca != cb {
			return ca > cb
		}
		return a > b
	})
	return sorted
}

func isRenderable(name string, notes bool) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, "_") {
		return false
	}
	if base == "NOTES.txt" {
		return notes
	}
	ext := path.Ext(base)
	return ext == ".yaml" || ext == ".yml" || ext == ".tpl"
}

type renderer struct {
	root     *template.Template
	included map[string]int
}

func (r *renderer) funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	// helm removes these so a chart cannot read the machine it is rendered on.
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"required": func(msg string, val interface{}) (interface{}, error) {
			if val == nil {
				return val, errors.New(msg)
			}
			if s, ok := val.(string); ok && s == "" {
				return val, errors.New(msg)
			}
			return val, nil
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		// helm template has no cluster to ask, so lookup always finds nothing.
		"lookup": func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		// include and tpl are bound to a template set below; these placeholders let Parse
		// accept templates that call them.
		"include": func(string, interface{}) (string, error) { return "", nil },
		"tpl":     func(string, interface{}) (string, error) { return "", nil },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// bind gives t include and tpl functions that execute within t's own template set, so a
// template defined inside a tpl string can be included from that same string.
func (r *renderer) bind(t *template.Template) {
	t.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			if r.included[name] > maxIncludeDepth {
				return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
			}
			r.included[name]++
			defer func() { r.included[name]-- }()
			var buf strings.Builder
			err := t.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := t.Clone()
			if err != nil {
				return "", fmt.Errorf("cannot clone template: %w", err)
			}
			r.bind(clone)
			inline, err := clone.New("tpl").Parse(text)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %w", text, err)
			}
			var buf strings.Builder
			if err := inline.Execute(&buf, data); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
	})
}

// render executes every renderable template; the result maps template name → output.
func render(c *chart, top map[string]interface{}, notes bool) (map[string]string, error) {
	r := &renderer{included: map[string]int{}}
	r.root = template.New("gotpl").Option("missingkey=zero").Funcs(r.funcMap())
	r.bind(r.root)
	names := make([]string, 0, len(c.templates))
	for name := range c.templates {
		names = append(names, name)
	}
	for _, name := range parseOrder(names) {
		if _, err := r.root.New(name).Parse(c.templates[name]); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if !isRenderable(name, notes) {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": c.meta.Name + "/templates"}
		var buf strings.Builder
		if err := r.root.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, err
		}
		// Go prints "<no value>" for a missing map key; helm blanks it, so do we.
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// ---- manifest splitting and ordering (helm's releaseutil) ---------------------------------------

var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

var docSeparator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type manifest struct {
	source  string
	content string
	kind    string
	hook    bool
}

type head struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func splitManifests(rendered map[string]string) ([]manifest, []manifest, error) {
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		if path.Base(name) != "NOTES.txt" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var generic, hooks []manifest
	for _, name := range names {
		text := rendered[name]
		if strings.TrimSpace(text) == "" {
			continue
		}
		for _, doc := range docSeparator.Split(text, -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var h head
			if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
				return nil, nil, fmt.Errorf("YAML parse error on %s: %w", name, err)
			}
			m := manifest{source: name, content: doc, kind: h.Kind}
			if _, ok := h.Metadata.Annotations["helm.sh/hook"]; ok {
				m.hook = true
				hooks = append(hooks, m)
			} else {
				generic = append(generic, m)
			}
		}
	}
	sortByKind(generic)
	sortByKind(hooks)
	return generic, hooks, nil
}

// sortByKind orders like helm: known kinds in install order, unknown kinds after them
// alphabetically, the same kind in source order.
func sortByKind(ms []manifest) {
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, aok := rank[ms[i].kind]
		b, bok := rank[ms[j].kind]
		switch {
		case aok && bok:
			return a < b
		case aok != bok:
			return aok
		default:
			return ms[i].kind < ms[j].kind
		}
	})
}

// ---- capabilities ------------------------------------------------------------------------------

// The API groups a Kubernetes 1.30 API server serves by default, with the kinds the chart checks
// care about, so `.Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget"` works as in helm.
var builtinAPIs = map[string][]string{
	"v1": {"ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node",
		"PersistentVolume", "PersistentVolumeClaim", "Pod", "PodTemplate", "ReplicationController",
		"ResourceQuota", "Secret", "Service", "ServiceAccount"},
	"admissionregistration.k8s.io/v1": {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"},
	"apiextensions.k8s.io/v1":         {"CustomResourceDefinition"},
	"apiregistration.k8s.io/v1":       {"APIService"},
	"apps/v1":                         {"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"},
	"authentication.k8s.io/v1":        {"TokenReview", "SelfSubjectReview"},
	"authorization.k8s.io/v1":         {"LocalSubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview"},
	"autoscaling/v1":                  {"HorizontalPodAutoscaler"},
	"autoscaling/v2":                  {"HorizontalPodAutoscaler"},
	"batch/v1":                        {"CronJob", "Job"},
	"certificates.k8s.io/v1":          {"CertificateSigningRequest"},
	"coordination.k8s.io/v1":          {"Lease"},
	"discovery.k8s.io/v1":             {"EndpointSlice"},
	"events.k8s.io/v1":                {"Event"},
	"flowcontrol.apiserver.k8s.io/v1": {"FlowSchema", "PriorityLevelConfiguration"},
	"networking.k8s.io/v1":            {"Ingress", "IngressClass", "NetworkPolicy"},
	"node.k8s.io/v1":                  {"RuntimeClass"},
	"policy/v1":                       {"PodDisruptionBudget"},
	"rbac.authorization.k8s.io/v1":    {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"},
	"scheduling.k8s.io/v1":            {"PriorityClass"},
	"storage.k8s.io/v1":               {"CSIDriver", "CSINode", "CSIStorageCapacity", "StorageClass", "VolumeAttachment"},
}

func capabilities(kubeVersion string, extra []string) (Capabilities, error) {
	v := strings.TrimPrefix(kubeVersion, "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return Capabilities{}, fmt.Errorf("--kube-version %q: want MAJOR.MINOR[.PATCH]", kubeVersion)
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return Capabilities{}, fmt.Errorf("--kube-version %q: want MAJOR.MINOR[.PATCH]", kubeVersion)
		}
	}
	if len(parts) == 2 {
		v += ".0"
	}
	set := VersionSet{}
	for gv, kinds := range builtinAPIs {
		set = append(set, gv)
		for _, k := range kinds {
			set = append(set, gv+"/"+k)
		}
	}
	set = append(set, extra...)
	sort.Strings(set)
	return Capabilities{
		KubeVersion: KubeVersion{Version: "v" + v, Major: parts[0], Minor: parts[1]},
		APIVersions: set,
		HelmVersion: HelmVersion{Version: "v3.16.0", GitTreeState: "clean", GoVersion: "go1.22"},
	}, nil
}

// ---- command line ------------------------------------------------------------------------------

const usage = `usage: helm-render [-f values.yaml]... [--set a.b=c]... [--name RELEASE] [--namespace NS]
                   [--kube-version 1.30.0] [--api-versions GROUP/VERSION[/Kind]]...
                   [--print-values] [--notes] CHART_DIR

Renders CHART_DIR like 'helm template' (helm's engine, values coalescing, functions, output
format and install order). --print-values prints the merged values as JSON instead of rendering;
--notes also renders templates/NOTES.txt and prints it after the manifests under a "NOTES:" line,
as 'helm install --dry-run' does. Errors go to stderr with exit status 1; usage errors exit 2.
`

type options struct {
	valuesFiles []string
	sets        []string
	name        string
	namespace   string
	kubeVersion string
	apiVersions []string
	printValues bool
	notes       bool
	chartDir    string
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parseArgs(args []string) (options, error) {
	o := options{name: "release-name", namespace: "default", kubeVersion: "1.30.0"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, inline, hasInline := arg, "", false
		if strings.HasPrefix(arg, "--") && strings.Contains(arg, "=") {
			idx := strings.Index(arg, "=")
			flag, inline, hasInline = arg[:idx], arg[idx+1:], true
		}
		value := func() (string, error) {
			if hasInline {
				return inline, nil
			}
			if i+1 >= len(args) {
				return "", usageError{fmt.Sprintf("%s needs a value", flag)}
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch flag {
		case "-f", "--values":
			if v, err = value(); err == nil {
				o.valuesFiles = append(o.valuesFiles, v)
			}
		case "--set":
			if v, err = value(); err == nil {
				o.sets = append(o.sets, v)
			}
		case "--name":
			o.name, err = value()
		case "-n", "--namespace":
			o.namespace, err = value()
		case "--kube-version":
			o.kubeVersion, err = value()
		case "-a", "--api-versions":
			if v, err = value(); err == nil {
				o.apiVersions = append(o.apiVersions, strings.Split(v, ",")...)
			}
		case "--print-values":
			o.printValues = true
		case "--notes":
			o.notes = true
		case "-h", "--help":
			return o, usageError{""}
		default:
			if strings.HasPrefix(arg, "-") {
				return o, usageError{fmt.Sprintf("unknown option %s", arg)}
			}
			if o.chartDir != "" {
				return o, usageError{"only one CHART_DIR may be given"}
			}
			o.chartDir = arg
		}
		if err != nil {
			return o, err
		}
	}
	if o.chartDir == "" {
		return o, usageError{"CHART_DIR is required"}
	}
	return o, nil
}

// Release names must fit in resource names, so helm rejects what is not a short DNS-1123 label.
var releaseName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func run(args []string, stdout io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if !releaseName.MatchString(o.name) || len(o.name) > 53 {
		return fmt.Errorf("invalid release name %q: must be a lowercase DNS-1123 name of at most 53 characters", o.name)
	}
	c, err := loadChart(o.chartDir)
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range o.valuesFiles {
		m, err := readValuesFile(f)
		if err != nil {
			return err
		}
		user = mergeMaps(user, m)
	}
	for _, s := range o.sets {
		if err := applySet(user, s); err != nil {
			return err
		}
	}
	values := coalesce(user, c.values)
	if o.printValues {
		data, err := json.MarshalIndent(values, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", data)
		return err
	}
	caps, err := capabilities(o.kubeVersion, o.apiVersions)
	if err != nil {
		return err
	}
	top := map[string]interface{}{
		"Values":       values,
		"Release":      Release{Name: o.name, Namespace: o.namespace, IsInstall: true, Revision: 1, Service: "Helm"},
		"Chart":        c.meta,
		"Capabilities": caps,
		"Files":        c.files,
		"Subcharts":    map[string]interface{}{},
	}
	rendered, err := render(c, top, o.notes)
	if err != nil {
		return err
	}
	generic, hooks, err := splitManifests(rendered)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	// helm template prints the release's manifests, then its hooks.
	for _, m := range append(generic, hooks...) {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	if o.notes {
		if text, ok := rendered[c.meta.Name+"/templates/NOTES.txt"]; ok {
			fmt.Fprintf(&b, "NOTES:\n%s\n", strings.TrimRight(text, "\n"))
		}
	}
	_, err = stdout.Write(b.Bytes())
	return err
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			if ue.msg != "" {
				fmt.Fprintf(os.Stderr, "helm-render: %s\n", ue.msg)
				fmt.Fprint(os.Stderr, usage)
				os.Exit(2)
			}
			fmt.Print(usage)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "helm-render: %v\n", err)
		os.Exit(1)
	}
}
