package verify

import (
	"strings"
)

// BundleStepZH names one check of Bundle (a BundleStep's or
// BundleError's Step) in Chinese: the step names (bundle.go,
// bundletenant.go) are English ("leaf 3 (contract.signed)", "checkpoint 8
// token 0"). The /verify page and the notarial certificate show it first
// with the English beside it; a step added later without a name here
// still reads in Chinese (校验步骤). kindZH names an event kind in
// Chinese, as its caller words them elsewhere (nil: the kind as is).
func BundleStepZH(step string, kindZH func(kind string) string) string {
	word, rest, _ := strings.Cut(step, " ")
	switch word {
	case "zip":
		return "压缩包"
	case "manifest":
		return "清单 manifest.json"
	case "keys":
		return "公钥"
	case "events":
		return "事件"
	case "files":
		return "文件摘要"
	case "tenant":
		if step == "tenant of the events" {
			return "事件所属租户"
		}
	case "checkpoint":
		if size, tok, ok := strings.Cut(rest, " token "); ok {
			return "检查点 " + size + " 的 RFC 3161 时间戳 " + tok
		}
		return "检查点 " + rest
	case "leaf":
		if n, kind, ok := strings.Cut(rest, " ("); ok && strings.HasSuffix(kind, ")") {
			kind = strings.TrimSuffix(kind, ")")
			if kindZH != nil {
				kind = kindZH(kind)
			}
			return "叶子 " + n + "（" + kind + "）"
		}
		return "叶子 " + rest
	case "consistency":
		return "一致性证明 " + rest
	case "opening":
		if r, ok := strings.CutPrefix(rest, "leaf "); ok {
			return "叶子 " + r + " 的承诺打开值"
		}
	case "document":
		return "合同原件 " + rest
	case "file":
		return "文件 " + rest
	case "pdf":
		if rest == "" {
			return "PDF 签名"
		}
		return "PDF 签名 " + rest
	case "bundle":
		return "证据包"
	}
	return "校验步骤 " + step
}
