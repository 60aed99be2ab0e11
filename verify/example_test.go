package verify_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/cunzheng/cunzheng/verify"
)

// ExamplePDF verifies a signed contract against a directory of trust roots,
// offline (no ledger lookup).
func ExamplePDF() {
	roots, err := verify.LoadRoots("../testdata/pdf/roots", false)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("../testdata/pdf/update-annotation.pdf")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	rep, err := verify.PDF(context.Background(), f, st.Size(), verify.Options{Roots: roots})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Verdict.Indication)
	fmt.Println(rep.Verdict.Message.ZH)
	for _, s := range rep.Signatures {
		fmt.Println(s.Index, s.Signer.CommonName, s.Algorithm, s.Verdict.Indication)
		fmt.Println(s.Verdict.Message.EN)
	}
	// Output:
	// TOTAL-PASSED
	// 该PDF文件已签名且所有签名都有效。最后一次签名之后文档有允许的修改。
	// 1 张三 RSA PKCS#1 v1.5 with SHA-256 TOTAL-PASSED
	// The signature by 张三 is valid; the document was changed after it, only in allowed ways (annotations).
}
