package configs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
)

// The deployment artifacts, relative to this package's directory.
const (
	composePath      = "../docker-compose.yml"
	envExamplePath   = "../.env.example"
	dockerfilePath   = "../Dockerfile"
	dockerignorePath = "../.dockerignore"
	binaryDir        = "../cmd/cvmlogin"
)

// sdkCredentialVars are the Tencent Cloud SDK's own variables, read besides
// the CVMLOGIN_* ones.
var sdkCredentialVars = []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"}

// mustRead returns the contents of path.
func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// difference returns the items of want missing from got, and those of got
// that want lacks.
func difference(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// assertSameSet fails tb, naming what is missing and what is extra, unless
// want and got hold the same items.
func assertSameSet(tb testing.TB, what string, want, got []string) {
	tb.Helper()
	if missing, extra := difference(want, got); len(missing)+len(extra) > 0 {
		tb.Errorf("%s: missing %q, unexpected %q", what, missing, extra)
	}
}

// ---- Configuration keys ----------------------------------------------------

// mustDefaultSettings returns every configuration key of defaults.yaml with
// its default as an environment variable would spell it: lists
// comma-separated, everything else as written.
func mustDefaultSettings(tb testing.TB) map[string]string {
	tb.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(mustRead(tb, "defaults.yaml"), &root); err != nil {
		tb.Fatalf("parsing defaults.yaml: %v", err)
	}
	settings := map[string]string{}
	addLeaves(settings, "", root.Content[0])
	return settings
}

// addLeaves adds the leaves under n, a mapping node at path prefix, to settings.
func addLeaves(settings map[string]string, prefix string, n *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := prefix+n.Content[i].Value, n.Content[i+1]
		switch value.Kind {
		case yaml.MappingNode:
			if len(value.Content) == 0 { // a map setting, like tencentcloud.rate_limits
				settings[key] = ""
				break
			}
			addLeaves(settings, key+".", value)
		case yaml.SequenceNode:
			var items []string
			for _, item := range value.Content {
				items = append(items, item.Value)
			}
			settings[key] = strings.Join(items, ",")
		default:
			settings[key] = value.Value
		}
	}
}

// mustConfigEnvNames returns the CVMLOGIN_* variable of every configuration key.
func mustConfigEnvNames(tb testing.TB) map[string]string {
	tb.Helper()
	names := map[string]string{}
	for key := range mustDefaultSettings(tb) {
		names[configs.EnvName(key)] = key
	}
	return names
}

// mustListenPort returns the port of the default http.listen.
func mustListenPort(tb testing.TB) string {
	tb.Helper()
	listen := mustDefaultSettings(tb)["http.listen"]
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		tb.Fatalf("http.listen default %q: %v", listen, err)
	}
	return port
}

// ---- CAM policies ----------------------------------------------------------

// camPolicy is a Tencent Cloud CAM policy document.
type camPolicy struct {
	Version   string         `json:"version"`
	Statement []camStatement `json:"statement"`
}

type camStatement struct {
	Effect    string                         `json:"effect"`
	Action    []string                       `json:"action"`
	Resource  []string                       `json:"resource"`
	Condition map[string]map[string][]string `json:"condition,omitempty"`
}

// camAction matches an action as CAM names it: service:Action.
var camAction = regexp.MustCompile(`^[a-z]+:[A-Z][A-Za-z]+$`)

// camResourceTag matches a value of the qcs:resource_tag condition key:
// tag key&value.
var camResourceTag = regexp.MustCompile(`^[^&]+&[^&]*$`)

// mustReadPolicy parses the CAM policy at path and checks its syntax: version
// 2.0, and statements that allow named actions on every resource, each
// action once, optionally under a qcs:resource_tag condition.
func mustReadPolicy(tb testing.TB, path string) camPolicy {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(mustRead(tb, path)))
	dec.DisallowUnknownFields()
	var p camPolicy
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if dec.More() {
		tb.Fatalf("%s: data after the policy", path)
	}
	if p.Version != "2.0" || len(p.Statement) == 0 {
		tb.Errorf("%s: version %q with %d statements, want version 2.0 with statements", path, p.Version, len(p.Statement))
	}
	seen := map[string]bool{}
	for i, s := range p.Statement {
		if s.Effect != "allow" || !slices.Equal(s.Resource, []string{"*"}) || len(s.Action) == 0 {
			tb.Errorf("%s: statement %d is %+v, want effect allow on resource [*] with actions", path, i, s)
		}
		for _, a := range s.Action {
			if !camAction.MatchString(a) || seen[a] {
				tb.Errorf("%s: action %q is malformed or repeated", path, a)
			}
			seen[a] = true
		}
		for op, keys := range s.Condition {
			tags := keys["qcs:resource_tag"]
			if op != "for_any_value:string_equal" || len(keys) != 1 || len(tags) == 0 || !slices.ContainsFunc(tags, camResourceTag.MatchString) {
				tb.Errorf("%s: statement %d has condition %v, want for_any_value:string_equal on qcs:resource_tag key&value", path, i, s.Condition)
			}
		}
	}
	return p
}

// actionsOf returns every action p allows.
func actionsOf(p camPolicy) []string {
	var out []string
	for _, s := range p.Statement {
		out = append(out, s.Action...)
	}
	return out
}

// adapterActions returns the CAM names of the adapter's actions that keep.
func adapterActions(keep func(tencent.Action) bool) []string {
	var out []string
	for _, a := range tencent.Actions() {
		if keep(a) {
			out = append(out, a.String())
		}
	}
	return out
}

func every(tencent.Action) bool            { return true }
func changes(a tencent.Action) bool        { return a.Changes }
func changesNothing(a tencent.Action) bool { return !a.Changes }

// guestCheck keeps the TAT actions of the in-guest checks: tat:RunCommand
// and the reads around it.
func guestCheck(a tencent.Action) bool { return a.Service == "tat" }

// diagnoseOnly keeps the read-only actions that run nothing in a guest.
func diagnoseOnly(a tencent.Action) bool { return changesNothing(a) && !guestCheck(a) }

func TestCAMPolicyCoversExactlyTheAdapterActions(t *testing.T) {
	p := mustReadPolicy(t, "cam-policy.json")
	assertSameSet(t, "cam-policy.json against tencent.Actions()", adapterActions(every), actionsOf(p))
}

func TestCAMPolicyKeepsFixesInTheirOwnStatements(t *testing.T) {
	isChange := map[string]bool{}
	for _, a := range tencent.Actions() {
		isChange[a.String()] = a.Changes
	}
	for i, s := range mustReadPolicy(t, "cam-policy.json").Statement {
		fixes := 0
		for _, a := range s.Action {
			if isChange[a] {
				fixes++
			}
		}
		if fixes != 0 && fixes != len(s.Action) {
			t.Errorf("statement %d mixes fix actions with read actions: %q", i, s.Action)
		}
	}
}

// TestCAMPolicySplitFilesPartitionIt: the diagnosis policy is read-only and
// runs nothing in a guest (no tat:RunCommand), the guest-checks policy holds
// the TAT actions, the fix policy the changes, and cam-policy.json is the
// three in that order.
func TestCAMPolicySplitFilesPartitionIt(t *testing.T) {
	whole := mustReadPolicy(t, "cam-policy.json")
	diagnose := mustReadPolicy(t, "cam-policy-diagnose.json")
	guest := mustReadPolicy(t, "cam-policy-guest.json")
	fix := mustReadPolicy(t, "cam-policy-fix.json")
	assertSameSet(t, "cam-policy-diagnose.json against the read-only actions", adapterActions(diagnoseOnly), actionsOf(diagnose))
	assertSameSet(t, "cam-policy-guest.json against the in-guest checks' actions", adapterActions(guestCheck), actionsOf(guest))
	assertSameSet(t, "cam-policy-fix.json against the actions that change resources", adapterActions(changes), actionsOf(fix))
	if slices.Contains(actionsOf(diagnose), "tat:RunCommand") {
		t.Error("cam-policy-diagnose.json grants tat:RunCommand")
	}
	if joined := slices.Concat(diagnose.Statement, guest.Statement, fix.Statement); !reflect.DeepEqual(joined, whole.Statement) {
		t.Errorf("cam-policy.json's statements are not those of cam-policy-diagnose.json, cam-policy-guest.json and cam-policy-fix.json in order")
	}
}

// TestCAMTaggedPoliciesScopeTheInstanceActions: the tag-scoped variants
// grant the same actions, and put every action that acts on an instance or
// its security group under a qcs:resource_tag condition.
func TestCAMTaggedPoliciesScopeTheInstanceActions(t *testing.T) {
	for _, name := range []string{"guest", "fix"} {
		plain := mustReadPolicy(t, "cam-policy-"+name+".json")
		tagged := mustReadPolicy(t, "cam-policy-"+name+"-tagged.json")
		assertSameSet(t, "cam-policy-"+name+"-tagged.json against cam-policy-"+name+".json", actionsOf(plain), actionsOf(tagged))
		for _, s := range tagged.Statement {
			for _, a := range s.Action {
				if (a == "tat:RunCommand" || slices.Contains(adapterActions(changes), a)) && s.Condition == nil {
					t.Errorf("cam-policy-%s-tagged.json grants %s on untagged resources", name, a)
				}
			}
		}
	}
}

// ---- .env.example ------------------------------------------------------------

// envAssignment matches a variable assignment of an env file, commented out
// or not.
var envAssignment = regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)

// envEntry is one variable of .env.example.
type envEntry struct {
	name, value string
	documented  bool // the line before it is a comment that is no assignment
}

// mustReadEnvExample returns the variables of .env.example in order.
func mustReadEnvExample(tb testing.TB) []envEntry {
	tb.Helper()
	var (
		entries []envEntry
		prev    string
	)
	sc := bufio.NewScanner(bytes.NewReader(mustRead(tb, envExamplePath)))
	for sc.Scan() {
		line := sc.Text()
		if m := envAssignment.FindStringSubmatch(line); m != nil {
			documented := strings.HasPrefix(prev, "#") && !envAssignment.MatchString(prev)
			entries = append(entries, envEntry{name: m[2], value: m[3], documented: documented})
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return entries
}

func TestEnvExampleListsEveryVariableOnce(t *testing.T) {
	entries := mustReadEnvExample(t)
	var got []string
	for _, e := range entries {
		if slices.Contains(got, e.name) {
			t.Errorf("%s is listed twice", e.name)
		}
		if !e.documented {
			t.Errorf("%s has no comment of its own on the line before it", e.name)
		}
		got = append(got, e.name)
	}
	want := slices.Clone(sdkCredentialVars)
	for name := range mustConfigEnvNames(t) {
		want = append(want, name)
	}
	assertSameSet(t, ".env.example against the configuration keys", want, got)
}

func TestEnvExampleShowsDefaultsAndNoSecrets(t *testing.T) {
	defaults := mustDefaultSettings(t)
	keys := mustConfigEnvNames(t)
	for _, e := range mustReadEnvExample(t) {
		want := defaults[keys[e.name]] // "" for the SDK's credential variables
		if e.value != "" && e.value != want {
			t.Errorf("%s=%s: want empty or the default %q (secrets always empty)", e.name, e.value, want)
		}
	}
}

// ---- docker-compose.yml --------------------------------------------------------

// words is a Compose value written either as a list or as one string, such
// as command, env_file or a healthcheck's test; a string is split at spaces.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(w))
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     words             `yaml:"command"`
	EnvFile     words             `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck struct {
		Test words `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart   string `yaml:"restart"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// mustReadCompose parses docker-compose.yml and returns its services, failing
// unless cvmlogin and redis are among them.
func mustReadCompose(tb testing.TB) composeFile {
	tb.Helper()
	var f composeFile
	if err := yaml.Unmarshal(mustRead(tb, composePath), &f); err != nil {
		tb.Fatalf("parsing %s: %v", composePath, err)
	}
	for _, name := range []string{"cvmlogin", "redis"} {
		if _, ok := f.Services[name]; !ok {
			tb.Fatalf("%s has no %s service", composePath, name)
		}
	}
	return f
}

// containerPort returns the container side of a Compose port mapping such as
// "127.0.0.1:8080:8080" or "8080/tcp".
func containerPort(mapping string) string {
	mapping, _, _ = strings.Cut(mapping, "/")
	return mapping[strings.LastIndex(mapping, ":")+1:]
}

func TestComposeBot(t *testing.T) {
	bot := mustReadCompose(t).Services["cvmlogin"]
	port := mustListenPort(t)
	if bot.Build == nil {
		t.Error("cvmlogin is not built from the Dockerfile")
	}
	if !slices.Equal(bot.Command, []string{"serve"}) {
		t.Errorf("cvmlogin command %q, want [serve]", bot.Command)
	}
	if !slices.Contains(bot.EnvFile, ".env") {
		t.Errorf("cvmlogin env_file %q, want .env", bot.EnvFile)
	}
	if got := bot.Environment[configs.EnvName("redis.addr")]; got != "redis:6379" {
		t.Errorf("cvmlogin's redis.addr is %q, want the redis service, redis:6379", got)
	}
	if !slices.ContainsFunc(bot.Ports, func(m string) bool { return containerPort(m) == port }) {
		t.Errorf("cvmlogin ports %q do not publish http.listen's port %s", bot.Ports, port)
	}
	if probe := "http://127.0.0.1:" + port + "/healthz"; !slices.Contains(bot.Healthcheck.Test, probe) {
		t.Errorf("cvmlogin healthcheck %q does not probe %s", bot.Healthcheck.Test, probe)
	}
	if bot.Restart != "unless-stopped" {
		t.Errorf("cvmlogin restart %q, want unless-stopped", bot.Restart)
	}
	if got := bot.DependsOn["redis"].Condition; got != "service_healthy" {
		t.Errorf("cvmlogin depends on redis with condition %q, want service_healthy", got)
	}
}

func TestComposeRedis(t *testing.T) {
	f := mustReadCompose(t)
	redis := f.Services["redis"]
	if !strings.HasPrefix(redis.Image, "redis:") {
		t.Errorf("redis image %q", redis.Image)
	}
	if i := slices.Index(redis.Command, "--appendonly"); i < 0 || i+1 >= len(redis.Command) || redis.Command[i+1] != "yes" {
		t.Errorf("redis command %q does not turn on the append-only file", redis.Command)
	}
	dataVolume := slices.ContainsFunc(redis.Volumes, func(v string) bool {
		name, target, _ := strings.Cut(v, ":")
		_, declared := f.Volumes[name]
		return declared && strings.TrimSuffix(target, ":rw") == "/data"
	})
	if !dataVolume {
		t.Errorf("redis volumes %q mount no top-level named volume on /data", redis.Volumes)
	}
	if !slices.Contains(redis.Healthcheck.Test, "redis-cli") || !slices.Contains(redis.Healthcheck.Test, "ping") {
		t.Errorf("redis healthcheck %q, want redis-cli ping", redis.Healthcheck.Test)
	}
	if redis.Restart == "" || redis.Restart == "no" {
		t.Errorf("redis restart %q, want a restart policy", redis.Restart)
	}
}

func TestComposeEnvNamesAreConfigKeys(t *testing.T) {
	keys := mustConfigEnvNames(t)
	for name, svc := range mustReadCompose(t).Services {
		for env := range svc.Environment {
			if _, ok := keys[env]; strings.HasPrefix(env, "CVMLOGIN_") && !ok {
				t.Errorf("service %s sets %s, which is no configuration key", name, env)
			}
		}
	}
}

// composeCommand returns the Compose CLI on this machine: the docker
// compose plugin, else the standalone docker-compose; nil when neither.
func composeCommand() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	return nil
}

func TestComposeConfigValidates(t *testing.T) {
	cli := composeCommand()
	if cli == nil {
		t.Skip("neither docker compose nor docker-compose is available")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), mustRead(t, envExamplePath), 0o600); err != nil {
		t.Fatal(err)
	}
	compose, err := filepath.Abs(composePath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	args := append(cli[1:], "-f", compose, "--project-directory", dir, "config", "-q")
	out, err := exec.CommandContext(ctx, cli[0], args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s config: %v\n%s", strings.Join(cli, " "), err, out)
	}
}

// ---- Dockerfile --------------------------------------------------------------

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper-case, like "RUN"
	args string
}

// mustReadDockerfile returns the instructions of the Dockerfile.
func mustReadDockerfile(tb testing.TB) []instruction {
	tb.Helper()
	var (
		out     []instruction
		pending string
	)
	sc := bufio.NewScanner(bytes.NewReader(mustRead(tb, dockerfilePath)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if body, continued := strings.CutSuffix(line, `\`); continued {
			pending += body + " "
			continue
		}
		cmd, args, _ := strings.Cut(pending+line, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		pending = ""
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// finalStage returns the instructions after the last FROM.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

// lastArgs returns the arguments of the last instruction cmd in ins, or "".
func lastArgs(ins []instruction, cmd string) string {
	for _, in := range slices.Backward(ins) {
		if in.cmd == cmd {
			return in.args
		}
	}
	return ""
}

// indexOf returns the index of the first instruction cmd whose arguments
// contain every part, or -1.
func indexOf(ins []instruction, cmd string, parts ...string) int {
	return slices.IndexFunc(ins, func(in instruction) bool {
		return in.cmd == cmd && !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(in.args, p) })
	})
}

func TestDockerfileBuildStage(t *testing.T) {
	ins := mustReadDockerfile(t)
	if froms := slices.DeleteFunc(slices.Clone(ins), func(in instruction) bool { return in.cmd != "FROM" }); len(froms) < 2 || !strings.Contains(froms[0].args, "golang:1.26") {
		t.Errorf("FROM lines %v: want a golang:1.26 build stage and a runtime stage", froms)
	}
	download := indexOf(ins, "RUN", "go mod download")
	if copyMod := indexOf(ins, "COPY", "go.mod", "go.sum"); copyMod < 0 || download < copyMod || download > indexOf(ins, "COPY", ". .") {
		t.Error("modules are not downloaded in their own layer, between COPY go.mod go.sum and COPY . .")
	}
	if indexOf(ins, "RUN", "CGO_ENABLED=0", "go build", "-trimpath", "-X main.version=", "./cmd/cvmlogin") < 0 {
		t.Error("no RUN builds ./cmd/cvmlogin with CGO_ENABLED=0, -trimpath and -X main.version=")
	}
}

func TestDockerfileVersionVariableExists(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(binaryDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if file.Name.Name == "main" && declaresVar(file, "version") {
			return
		}
	}
	t.Errorf("package main in %s has no var version for -ldflags -X main.version to set", binaryDir)
}

// declaresVar reports whether file declares a package-level variable name.
func declaresVar(file *ast.File, name string) bool {
	for _, decl := range file.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			if slices.ContainsFunc(spec.(*ast.ValueSpec).Names, func(n *ast.Ident) bool { return n.Name == name }) {
				return true
			}
		}
	}
	return false
}

func TestDockerfileRuntimeStage(t *testing.T) {
	final := finalStage(mustReadDockerfile(t))
	port := mustListenPort(t)
	user, _, _ := strings.Cut(lastArgs(final, "USER"), ":")
	if user == "" || user == "root" || user == "0" {
		t.Errorf("the image runs as user %q, want a non-root one", user)
	}
	if !slices.Contains(strings.Fields(lastArgs(final, "EXPOSE")), port) {
		t.Errorf("EXPOSE %q lacks http.listen's port %s", lastArgs(final, "EXPOSE"), port)
	}
	if got := lastArgs(final, "ENTRYPOINT"); got != `["/cvmlogin"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/cvmlogin\"]", got)
	}
	if got := lastArgs(final, "CMD"); got != `["serve"]` {
		t.Errorf("CMD %s, want [\"serve\"]", got)
	}
	if hc := lastArgs(final, "HEALTHCHECK"); hc != "NONE" && !strings.Contains(hc, "http://127.0.0.1:"+port+"/healthz") {
		t.Errorf("HEALTHCHECK %q: want NONE or a probe of /healthz on port %s", hc, port)
	}
	if indexOf(final, "COPY", "--from=", "/cvmlogin") < 0 {
		t.Error("the runtime stage does not copy the binary from the build stage")
	}
}

func TestDockerIgnoreKeepsSecretsOut(t *testing.T) {
	patterns := strings.Split(string(mustRead(t, dockerignorePath)), "\n")
	for _, want := range []string{".env", ".git"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// ---- Slack app manifests ---------------------------------------------------------

// manifest is the part of a Slack app manifest these tests read.
type manifest struct {
	Display struct {
		Name string `yaml:"name"`
	} `yaml:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName string `yaml:"display_name"`
		} `yaml:"bot_user"`
		SlashCommands []manifestCommand `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuth struct {
		Scopes struct {
			Bot  []string `yaml:"bot"`
			User []string `yaml:"user"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url"`
		} `yaml:"interactivity"`
		Events struct {
			RequestURL string   `yaml:"request_url"`
			BotEvents  []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		SocketMode bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

type manifestCommand struct {
	Command   string `yaml:"command"`
	URL       string `yaml:"url"`
	UsageHint string `yaml:"usage_hint"`
}

// The slash command (design.md B6).
const (
	slashCommand = "/cvm-login"
	usageHint    = "TARGET [REGION] [--port N] | help"
)

// requestURLs returns the request URLs of m by the route they should end in.
func (m *manifest) requestURLs() map[string]string {
	urls := map[string]string{
		"/slack/interactions": m.Settings.Interactivity.RequestURL,
		"/slack/events":       m.Settings.Events.RequestURL,
	}
	for _, c := range m.Features.SlashCommands {
		if c.Command == slashCommand {
			urls["/slack/commands"] = c.URL
		}
	}
	return urls
}

func TestManifests(t *testing.T) {
	tests := []struct {
		file       string
		socketMode bool
	}{
		{"slack-app-manifest.yaml", true},
		{"slack-app-manifest.http.yaml", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var m manifest
			if err := yaml.Unmarshal(mustRead(t, tt.file), &m); err != nil {
				t.Fatalf("parsing: %v", err)
			}
			if n := len(m.Display.Name); n == 0 || n > 35 || m.Features.BotUser.DisplayName != "cvmlogin" {
				t.Errorf("app name %q, bot user %q: want a name of at most 35 characters and bot user cvmlogin", m.Display.Name, m.Features.BotUser.DisplayName)
			}
			if !slices.ContainsFunc(m.Features.SlashCommands, func(c manifestCommand) bool {
				return c.Command == slashCommand && c.UsageHint == usageHint
			}) {
				t.Errorf("no %s command with usage hint %q", slashCommand, usageHint)
			}
			if !slices.Contains(m.Settings.Events.BotEvents, "app_mention") || !m.Settings.Interactivity.IsEnabled {
				t.Error("want the app_mention bot event and interactivity enabled")
			}
			if len(m.OAuth.Scopes.User) > 0 {
				t.Errorf("user scopes %q: the bot needs none", m.OAuth.Scopes.User)
			}
			if m.Settings.SocketMode != tt.socketMode {
				t.Errorf("socket_mode_enabled = %v, want %v", m.Settings.SocketMode, tt.socketMode)
			}
			for route, raw := range m.requestURLs() {
				if err := checkRequestURL(raw, route, tt.socketMode); err != nil {
					t.Errorf("request URL for %s: %v", route, err)
				}
			}
		})
	}
}

// checkRequestURL checks the request URL raw of route: none in Socket Mode,
// an https URL ending in route otherwise.
func checkRequestURL(raw, route string, socketMode bool) error {
	if socketMode {
		if raw != "" {
			return fmt.Errorf("%q in Socket Mode, want none", raw)
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != route {
		return fmt.Errorf("%q, want https://HOST%s", raw, route)
	}
	return nil
}
