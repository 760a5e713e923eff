// Package docs holds the reference pages that the README links to. Its test
// keeps the links between them from breaking when a page moves: a clone has
// nothing outside the repository, so every relative link must name a file
// in it.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	fence  = regexp.MustCompile("(?ms)^```.*?^```")
	code   = regexp.MustCompile("`[^`\n]*`")
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// relativeLinks returns the targets of the Markdown links in md that point
// into the repository (no scheme, not only an anchor), without their
// anchors. Code blocks and code spans are not links.
func relativeLinks(md string) []string {
	md = fence.ReplaceAllString(md, "")
	md = code.ReplaceAllString(md, "")
	var out []string
	for _, m := range mdLink.FindAllStringSubmatch(md, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		out = append(out, target)
	}
	return out
}

// Every relative link in README.md and docs/*.md names a file or directory
// of the repository (anchors are not checked).
func TestRelativeLinksResolve(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join("..", "README.md"))
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range relativeLinks(string(b)) {
			checked++
			path := filepath.Join(filepath.Dir(page), filepath.FromSlash(target))
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links %s, which does not exist", page, target)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d relative links found: the pattern no longer matches the pages", checked)
	}
}

func TestRelativeLinks(t *testing.T) {
	md := "see [a](API.md#x), [b](https://example.com/c.md), [c](#local), [d](../LICENSE)\n" +
		"```\n[e](inside-a-fence.md)\n```\n`[f](in-a-span.md)` and [g](sub/page.md)"
	got := strings.Join(relativeLinks(md), " ")
	if want := "API.md ../LICENSE sub/page.md"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
