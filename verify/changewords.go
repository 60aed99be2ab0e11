package verify

import (
	"strconv"
	"strings"
)

// ChangeObjectZH says in Chinese what verify's change analysis found in a
// later revision: verify.Change.Object, which is English ("object 4 (a
// stream)", "page: /Contents changed"). The result page shows it Chinese
// first with the English beside it, like every other line; the English
// stays the reference (it is what `verify pdf --json` prints).
//
// verify builds those strings from a fixed set of formats (verify/diff.go
// and verify/changes.go); TestChangeObjectZHCoversVerify reads them from
// the source so that a new one cannot go untranslated unnoticed. Anything
// unknown still reads in Chinese, pointing at the English.
func ChangeObjectZH(s string) string {
	if rest, ok := strings.CutPrefix(s, "object "); ok {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i > 0 {
			if _, err := strconv.ParseUint(rest[:i], 10, 32); err == nil {
				return objectZH(rest[:i], rest[i:])
			}
		}
	}
	if zh, ok := phraseZH(s); ok {
		return zh
	}
	return "详见英文说明"
}

// objectZH is one object's finding: its number, then what the English
// said after "object N".
func objectZH(num, rest string) string {
	obj := "对象 " + num
	switch {
	case rest == "":
		return obj
	case rest == " deleted":
		return obj + " 被删除"
	case rest == " (a stream)":
		return obj + "（数据流）"
	case strings.HasPrefix(rest, " (a /") && strings.HasSuffix(rest, " stream)"):
		return obj + "（" + rest[4:len(rest)-len(" stream)")] + " 数据流）"
	case strings.HasPrefix(rest, " (/") && strings.HasSuffix(rest, ")"):
		return obj + "（" + rest[2:len(rest)-1] + "）"
	case strings.HasPrefix(rest, ": "):
		if zh, ok := phraseZH(rest[2:]); ok {
			return obj + "：" + zh
		}
	}
	return obj + "（详见英文说明）"
}

// changePhrases pairs verify's English formats, each * standing for a
// value (a key, a field name, a number), with the Chinese, {1}, {2}, {3}
// standing for those values in order (<n> for a place in the file that
// verify names, "object 5 /Annots", said in Chinese). The first pattern that matches
// wins, so a fixed sentence comes before a pattern it would also match.
var changePhrases = [][2]string{
	{"unreadable revision", "无法读取的版本"},
	{"* bytes after the last end-of-file marker", "最后一个文件结束标记之后还有 {1} 字节"},
	{"the document catalog cannot be read", "无法读取文档目录（/Root）"},
	{"the revision could not be analysed completely within the limits", "该版本超出分析限度，未能完整分析"},
	{"the trailer's /Root now names another existing object *", "文件尾的 /Root 改为指向另一个已有对象 {1}"},
	{"the catalog's /Metadata is not a metadata stream", "文档目录的 /Metadata 不是元数据流"},
	{"the catalog's /Version is not a name", "文档目录的 /Version 不是名称"},
	{"the interactive form was removed", "交互表单被删除"},
	{"the page tree was restructured", "页面树被重组"},
	{"/DSS is not a dictionary", "/DSS 不是字典"},
	{"/VRI is not a dictionary", "/VRI 不是字典"},
	{"/AcroForm now points at existing object *", "/AcroForm 改为指向已有对象 {1}"},
	{"/* now points at existing object *", "/{1} 改为指向已有对象 {2}"},
	{"/* in the DSS holds a direct object", "DSS 的 /{1} 含有直接对象"},
	{"/* in the DSS holds something other than a stream", "DSS 的 /{1} 含有数据流以外的内容"},
	{"/* in the DSS is not an array", "DSS 的 /{1} 不是数组"},
	{"/* was removed", "/{1} 被删除"},
	{"unexpected key /* in VRI entry", "VRI 条目中有不应出现的键 /{1}"},
	{"unexpected key /* in the DSS", "DSS 中有不应出现的键 /{1}"},
	{"VRI entry * is not a dictionary", "VRI 条目 {1} 不是字典"},
	{"VRI entry * points at an existing object", "VRI 条目 {1} 指向已有对象"},
	{"VRI entry * was changed or removed", "VRI 条目 {1} 被修改或删除"},
	{"VRI key * is not a hash", "VRI 键 {1} 不是哈希值"},
	{"a new form field * was added", "新增了表单域 {1}"},
	{"form field * changed type", "表单域 {1} 的类型被改变"},
	{"form field * was removed", "表单域 {1} 被删除"},
	{"form default resource /* /* was changed or removed", "表单默认资源 /{1} /{2} 被修改或删除"},
	{"form default resources /* were removed", "表单默认资源 /{1} 被删除"},
	{"interactive form: /* changed", "交互表单的 /{1} 被修改"},
	{"the appearance dictionary of * (object *) is also used by *", "{1} 的外观字典（对象 {2}）同时被 <3> 使用"},
	{"the appearance of * is not a dictionary", "{1} 的外观不是字典"},
	{"the value of signature field * is not a dictionary", "签名域 {1} 的值不是字典"},
	{"the value of signature field * is not an indirect object", "签名域 {1} 的值不是间接对象"},
	{"document catalog: /* changed", "文档目录的 /{1} 被修改"},
	{"existing object reused as the new signature field *", "已有对象被重用为新的签名域 {1}"},
	{"signature field *: /* changed", "签名域 {1} 的 /{2} 被修改"},
	{"form field *: /* changed", "表单域 {1} 的 /{2} 被修改"},
	{"page tree node: /* changed", "页面树节点的 /{1} 被修改"},
	{"structure tree root: /* changed", "结构树根的 /{1} 被修改"},
	{"structure element: /* changed", "结构元素的 /{1} 被修改"},
	{"structure parent tree: /* changed", "结构父树的 /{1} 被修改"},
	{"page: /* changed", "页面的 /{1} 被修改"},
	{"page: annotation * added is not allowed (*)", "页面新增的注释（对象 {1}）不被允许（{2}）"},
	{"page: the widget of a form field (object *) was removed", "页面上表单域的控件（对象 {1}）被删除"},
	{"rewritten in place but also used by * in the signed revision", "被原地改写，但已签名版本中的 <1> 也引用它"},
}

// slotZH says a place verify names ("object 5 /Annots", "the trailer
// /Root") in Chinese.
var slotZH = strings.NewReplacer("the trailer", "文件尾", "object ", "对象 ")

func phraseZH(s string) (string, bool) {
	for _, p := range changePhrases {
		vals, ok := matchPattern(p[0], s)
		if !ok {
			continue
		}
		zh := p[1]
		for i, v := range vals {
			n := strconv.Itoa(i + 1)
			zh = strings.ReplaceAll(zh, "{"+n+"}", v)
			zh = strings.ReplaceAll(zh, "<"+n+">", slotZH.Replace(v))
		}
		return zh, true
	}
	return "", false
}

// matchPattern matches s against pattern, each * standing for one or more
// characters, and returns what each * stood for.
func matchPattern(pattern, s string) ([]string, bool) {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return nil, false
	}
	if len(parts) == 1 {
		return nil, s == pattern
	}
	rest := s[len(parts[0]):]
	var vals []string
	for i, lit := range parts[1:] {
		last := i == len(parts)-2
		var j int
		switch {
		case last && lit == "":
			j = len(rest)
		case last:
			if !strings.HasSuffix(rest, lit) {
				return nil, false
			}
			j = len(rest) - len(lit)
		default:
			j = strings.Index(rest, lit)
		}
		if j < 1 {
			return nil, false
		}
		vals = append(vals, rest[:j])
		rest = rest[j+len(lit):]
	}
	return vals, true
}
