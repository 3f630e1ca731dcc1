package bot

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cvmlogin/cvmlogin/diag"
)

// SlashCommand is the bot's slash command (design.md B6).
const SlashCommand = "/cvm-login"

// exampleRegion is the region shown in usage examples.
const exampleRegion = "ap-shanghai"

// ErrNoTarget is returned (wrapped, followed by the usage text) by
// ParseCommand when the text names nothing to diagnose.
var ErrNoTarget = errors.New("tell me which instance to diagnose")

// Request is a parsed diagnosis request: what a user asked for with
// /cvm-login or an @mention.
type Request struct {
	Target diag.Target
	// Region is the region the user named, or "" for the configured default.
	Region string
	// Port is the login port the user named with --port, or 0 for the OS
	// default (22 Linux, 3389 Windows).
	Port int
	// Symptom is the error message the user saw, typed after the target
	// (and region): "Permission denied (publickey)". "" when none.
	Symptom string
	// Help is true when the user asked for help; the other fields are then
	// empty.
	Help bool
}

// String returns r as canonical command text: ParseCommand(r.String())
// returns r again.
func (r Request) String() string {
	if r.Help {
		return "help"
	}
	words := []string{r.Target.Raw}
	if r.Region != "" {
		words = append(words, r.Region)
	}
	if r.Port != 0 {
		words = append(words, "--port", strconv.Itoa(r.Port))
	}
	if r.Symptom != "" {
		words = append(words, r.Symptom)
	}
	return strings.Join(words, " ")
}

var (
	// leadingMention matches the bot mention that starts app_mention text.
	leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(\|[^>]*)?>`)
	// regionShape matches Tencent Cloud region names: ap-guangzhou,
	// na-siliconvalley, ap-shanghai-fsi.
	regionShape = regexp.MustCompile(`^[a-z]{2}-[a-z]+(-[a-z]+)?$`)
)

// ParseCommand parses the text of a /cvm-login command or of an @mention
// (whose leading bot mention it strips):
//
//	help
//	TARGET [REGION] [--port N | --port=N | -p N]
//
// TARGET is what diag.ParseTarget accepts; Slack's auto-links around it
// (<http://1.2.3.4|1.2.3.4>, <mailto:a@b|a@b>) are unwrapped to their label.
// REGION must look like a Tencent Cloud region and, when knownRegion is not
// nil, satisfy it.
//
// Text that reads as a sentence to the bot rather than a command (a lone
// greeting, or words after a would-be name that fit no command, as in
// "hello can you help?") asks for help: Request.Help is set.
//
// Every error is a sentence meant for the user: it says what was wrong and
// shows a command that works. Its text is mrkdwn, escaped and bounded, ready
// to post even though it quotes what the user typed. Empty text returns
// ErrNoTarget, wrapped together with Usage.
func ParseCommand(text string, knownRegion func(string) bool) (Request, error) {
	req, err := parseCommand(text, knownRegion)
	if err != nil {
		return Request{}, userError{err}
	}
	return req, nil
}

// maxUserErrorLen bounds the text of ParseCommand's errors.
const maxUserErrorLen = 2000

// userError is an error whose text is safe to post as mrkdwn.
type userError struct{ err error }

func (e userError) Error() string {
	return truncateText(escapeMrkdwn(e.err.Error()), maxUserErrorLen, "…")
}
func (e userError) Unwrap() error { return e.err }

func parseCommand(text string, knownRegion func(string) bool) (Request, error) {
	words := commandWords(text)
	if len(words) == 0 {
		return Request{}, fmt.Errorf("%w.\n\n%s", ErrNoTarget, Usage())
	}
	if isHelp(words) || isGreeting(words) {
		return Request{Help: true}, nil
	}
	p := commandParser{knownRegion: knownRegion}
	for rest := words; len(rest) > 0; {
		if p.symptomStarts(rest) {
			p.req.Symptom = strings.Join(rest, " ")
			break
		}
		consumed, err := p.word(rest[0], rest[1:])
		if err != nil {
			if p.chatting(err, len(words)) {
				return Request{Help: true}, nil
			}
			return Request{}, err
		}
		rest = rest[1+consumed:]
	}
	if p.req.Target.Raw == "" {
		return Request{}, fmt.Errorf("%w: name an instance as well, e.g. %s", ErrNoTarget, example("", "", p.req.Port))
	}
	return p.req, nil
}

// commandWords splits text into words, without the leading bot mention, with
// Slack's escapes undone.
func commandWords(text string) []string {
	text = leadingMention.ReplaceAllString(text, "")
	words := strings.Fields(text)
	for i, w := range words {
		words[i] = unescapeWord(w)
	}
	return words
}

// unescapeWord undoes what Slack and chat clients do to a typed word: link
// wrapping, HTML entities, code spans and "smart" dashes (macOS and iOS turn
// "--" into "—").
func unescapeWord(w string) string {
	if inner, ok := strings.CutPrefix(w, "<"); ok {
		if inner, ok = strings.CutSuffix(inner, ">"); ok {
			w = unwrapLink(inner, w)
		}
	}
	w = slackEntities.Replace(w)
	if len(w) > 2 && strings.HasPrefix(w, "`") && strings.HasSuffix(w, "`") {
		w = w[1 : len(w)-1]
	}
	for _, dash := range []string{"—", "–"} {
		if rest, ok := strings.CutPrefix(w, dash); ok {
			return "--" + rest
		}
	}
	return w
}

// unwrapLink returns the label (or bare address) of a Slack link escape, or
// word unchanged when inner is not a link (a user or channel mention).
func unwrapLink(inner, word string) string {
	target, label, hasLabel := strings.Cut(inner, "|")
	for _, scheme := range []string{"http://", "https://", "mailto:"} {
		if address, ok := strings.CutPrefix(target, scheme); ok {
			if hasLabel {
				return label
			}
			return address
		}
	}
	return word
}

var slackEntities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

func isHelp(words []string) bool {
	if len(words) == 1 && strings.EqualFold(words[0], "help") {
		return true
	}
	for _, w := range words {
		if w == "--help" || w == "-h" {
			return true
		}
	}
	return false
}

// isGreeting reports whether words are a lone greeting ("hi", "hello!"):
// people say hello to a bot before they ask it anything.
func isGreeting(words []string) bool {
	if len(words) != 1 {
		return false
	}
	switch strings.ToLower(strings.TrimRight(words[0], "!.,?")) {
	case "hi", "hello", "hey", "thanks", "thx":
		return true
	}
	return false
}

// commandParser accumulates a Request word by word.
type commandParser struct {
	knownRegion func(string) bool
	req         Request
	havePort    bool
	positionals []string
}

// proseError is the error of a word that fits no command: when nothing
// before it named an instance by ID or address, the text was a sentence.
type proseError struct{ error }

// chatting reports whether err, met while parsing n words, means the text is
// a sentence to the bot ("hello can you help?") rather than a mistyped
// command: it is then answered with help instead of a parse error. It is
// when no instance ID or IP address was given and a word fits no command
// (a second word that is no region, or a first that is no target in a text
// of several words, and that does not look like an attempt at an ID).
func (p *commandParser) chatting(err error, n int) bool {
	if p.req.Target.Kind == diag.TargetName {
		return errors.As(err, new(proseError))
	}
	if len(p.positionals) != 1 || p.req.Target.Raw != "" || n < 2 {
		return false
	}
	first := strings.ToLower(p.positionals[0])
	return !strings.ContainsAny(first, "0123456789") && !strings.HasPrefix(first, "ins-") && !strings.HasPrefix(first, "i-")
}

// symptomStarts reports whether words, which follow the target (and
// region), are the error message the user saw rather than a mistyped
// argument: not an option, a region or a second target (REGION TARGET
// typed the wrong way round). A lone unknown word is more likely a mistyped
// region, and after an instance name only text the classifier recognises
// counts, so that a sentence to the bot still gets help.
func (p *commandParser) symptomStarts(words []string) bool {
	w := words[0]
	switch {
	case p.req.Target.Raw == "" || strings.HasPrefix(w, "-"):
		return false
	case len(p.positionals) == 1 && regionShape.MatchString(w):
		return false
	}
	if t, err := diag.ParseTarget(w); err == nil && t.Kind != diag.TargetName {
		return false
	}
	s := diag.ClassifySymptom(strings.Join(words, " "), "")
	known := s != nil && s.Family != diag.SymptomUnknown
	if p.req.Target.Kind == diag.TargetName || len(words) == 1 {
		return known
	}
	return true
}

// word consumes w, and possibly words from rest; it returns how many of rest
// it consumed.
func (p *commandParser) word(w string, rest []string) (int, error) {
	if len(w) > 1 && strings.HasPrefix(w, "-") {
		return p.option(w, rest)
	}
	return 0, p.positional(w)
}

func (p *commandParser) option(w string, rest []string) (int, error) {
	name, value, hasValue := strings.Cut(w, "=")
	if name != "--port" && name != "-p" {
		return 0, fmt.Errorf("unknown option %s: the only option is --port, e.g. %s", name, p.example(2222))
	}
	consumed := 0
	if !hasValue {
		if len(rest) == 0 {
			return 0, fmt.Errorf("%s needs a port number, e.g. %s", name, p.example(2222))
		}
		value, consumed = rest[0], 1
	}
	if p.havePort {
		return 0, fmt.Errorf("the port is given twice: give --port once, e.g. %s", p.example(2222))
	}
	port, err := strconv.Atoi(value)
	if err != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("bad port %q: a login port is a number from 1 to 65535, e.g. %s", value, p.example(2222))
	}
	p.req.Port, p.havePort = port, true
	return consumed, nil
}

func (p *commandParser) positional(w string) error {
	p.positionals = append(p.positionals, w)
	switch len(p.positionals) {
	case 1:
		target, err := diag.ParseTarget(w)
		p.req.Target = target
		return err
	case 2:
		return p.region(w)
	}
	return proseError{fmt.Errorf("unexpected %q: give one target and at most one region, e.g. %s", w, p.example(0))}
}

func (p *commandParser) region(w string) error {
	if !regionShape.MatchString(w) {
		if swapped, ok := p.swappedArguments(w); ok {
			return fmt.Errorf("the target comes first, then the region: try %s", swapped)
		}
		return proseError{fmt.Errorf("%q is not a region: a region looks like %s, e.g. %s", w, exampleRegion, p.example(0))}
	}
	if p.knownRegion != nil && !p.knownRegion(w) {
		return fmt.Errorf("unknown region %q: try %s", w, example(p.req.Target.Raw, exampleRegion, 0))
	}
	p.req.Region = w
	return nil
}

// swappedArguments reports whether the user typed REGION TARGET, and the
// corrected command if so.
func (p *commandParser) swappedArguments(second string) (string, bool) {
	target, err := diag.ParseTarget(second)
	if err != nil || target.Kind == diag.TargetName || !regionShape.MatchString(p.positionals[0]) {
		return "", false
	}
	return example(target.Raw, p.positionals[0], 0), true
}

// example returns a working command for the target parsed so far (or the
// standard example target), with port when it is not zero.
func (p *commandParser) example(port int) string {
	return example(p.req.Target.Raw, exampleRegion, port)
}

// example returns "`/cvm-login TARGET REGION --port PORT`" as mrkdwn code,
// using the standard example target when target is empty and leaving out an
// empty region and a zero port.
func example(target, region string, port int) string {
	if target == "" {
		target = diag.TargetExample
	}
	cmd := SlashCommand + " " + target
	if region != "" {
		cmd += " " + region
	}
	if port != 0 {
		cmd += " --port " + strconv.Itoa(port)
	}
	return "`" + cmd + "`"
}

// Usage returns the help text (mrkdwn): the command forms, examples and what
// the bot checks.
func Usage() string {
	return "*Diagnose why you can't log in to a Tencent Cloud CVM instance*\n" +
		"• `" + SlashCommand + " TARGET [REGION] [--port N] [the error you see]`: post a diagnosis in this channel\n" +
		"• `@cvmlogin TARGET [REGION] [--port N]` inside a thread: diagnose into that thread\n" +
		"• `" + SlashCommand + "` alone: a form, where you can also paste the error your SSH or Remote Desktop client shows\n" +
		"• `" + SlashCommand + " help`: this message\n\n" +
		"TARGET is an instance ID (`" + diag.TargetExample + "`), its public IPv4 address, or its exact name. " +
		"REGION (e.g. `" + exampleRegion + "`) defaults to the configured one. " +
		"`--port` (or `-p`) sets the login port to check when it is not 22 (Linux) or 3389 (Windows).\n\n" +
		"*Examples*\n" +
		"• `" + SlashCommand + " " + diag.TargetExample + "`\n" +
		"• `" + SlashCommand + " 203.0.113.10 " + exampleRegion + "`\n" +
		"• `" + SlashCommand + " web-1 ap-guangzhou --port 2222`\n" +
		"• `" + SlashCommand + " " + diag.TargetExample + " Permission denied (publickey)`: the checks that explain this error come first\n\n" +
		"*What I check* (read-only): instance state, isolation, expiry and account arrears; " +
		"public IP, bandwidth limit and usage, DDoS black hole; security-group rules for the login port and ping; " +
		"a TCP connect to the login port; CPU and memory load; and, when the TAT agent is online, " +
		"the login service, its configuration, key-file modes and the guest firewall inside the instance. " +
		"Fixes (open ports, start, restart, and repairs inside the guest: restart the login service, open the guest firewall, " +
		"fix key-file modes, enable Remote Desktop) are offered as buttons and run only after an approver agrees."
}
