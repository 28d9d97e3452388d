package iac

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// deref follows document and alias nodes to the value they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// get returns the value under key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// path follows keys and list indexes ("0") from n.
func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = deref(n)
		if n == nil {
			return nil
		}
		if n.Kind == yaml.SequenceNode {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = deref(n.Content[i])
			continue
		}
		n = get(n, k)
	}
	return deref(n)
}

// items returns the elements of sequence n (nil for anything else).
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, deref(c))
	}
	return out
}

// pairs calls f for each key and value of mapping n, in file order.
func pairs(n *yaml.Node, f func(k, v *yaml.Node)) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i], deref(n.Content[i+1]))
	}
}

// scalar returns the text of a plain scalar node and whether n is one.
// Null scalars and tagged (intrinsic function) nodes are not plain.
func scalar(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" || isCustomTag(n.Tag) {
		return "", false
	}
	return n.Value, true
}

// isCustomTag reports a local tag such as !Ref (not a !!core tag).
func isCustomTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// isTrue reads a YAML/JSON boolean written as a bool or a string.
func isTrue(s string) bool {
	return strings.EqualFold(s, "true")
}
