package yamlconf

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// CheckKnownFields reports the first mapping key in node that t (a struct,
// possibly with inline structs and maps) has no field for, as yaml.v3's
// KnownFields would, with the key's line. yaml.v3 does not pass KnownFields
// on to custom unmarshalers, which call this instead; name stands for t in
// the message.
func CheckKnownFields(node *yaml.Node, t reflect.Type, name string) error {
	return checkKnownFields(node, t, t, name)
}

func checkKnownFields(node *yaml.Node, t, top reflect.Type, name string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return nil
		}
		fields := map[string]reflect.Type{}
		var inlineMap reflect.Type
		collectFields(t, fields, &inlineMap)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok && inlineMap != nil {
				ft, ok = inlineMap.Elem(), true
			}
			if !ok {
				return fmt.Errorf("line %d: field %s not found in %s", k.Line, k.Value, typeName(t, top, name))
			}
			if err := checkKnownFields(v, ft, top, name); err != nil {
				return err
			}
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return nil
		}
		for i := 1; i < len(node.Content); i += 2 {
			if err := checkKnownFields(node.Content[i], t.Elem(), top, name); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return nil
		}
		for _, v := range node.Content {
			if err := checkKnownFields(v, t.Elem(), top, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func collectFields(t reflect.Type, fields map[string]reflect.Type, inlineMap *reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				*inlineMap = ft
			} else {
				collectFields(ft, fields, inlineMap)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
}

func typeName(t, top reflect.Type, name string) string {
	if t == top {
		return name
	}
	return t.String()
}
