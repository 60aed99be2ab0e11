package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/cmd/cunzheng/startup"
	"github.com/cunzheng/cunzheng/verify"
)

type verifyBenchResult struct {
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	// In-process: every file verified Rounds times after a warm-up pass.
	Rounds         int     `json:"rounds"`
	FilesPerSec    float64 `json:"in_process_files_per_sec"`
	InProcessP50Ms float64 `json:"in_process_p50_ms"`
	InProcessP99Ms float64 `json:"in_process_p99_ms"`
	InProcessMaxMs float64 `json:"in_process_max_ms"`
	Unreadable     int     `json:"unreadable"`
	ProcessFiles   int     `json:"process_files"`
	// Path is how the measured `verify pdf` processes verified: handed over
	// to cunzheng-verify at start-up, or in the server binary's process.
	Path            string  `json:"verify_pdf_path,omitempty"`
	OursMedianMs    float64 `json:"verify_pdf_median_ms,omitempty"`
	OursMeanMs      float64 `json:"verify_pdf_mean_ms,omitempty"`
	OursCPUMs       float64 `json:"verify_pdf_cpu_ms,omitempty"`
	PdfsigMedianMs  float64 `json:"pdfsig_median_ms,omitempty"`
	PdfsigMeanMs    float64 `json:"pdfsig_mean_ms,omitempty"`
	PdfsigCPUMs     float64 `json:"pdfsig_cpu_ms,omitempty"`
	RatioToPdfsig   float64 `json:"ratio_to_pdfsig,omitempty"`
	CPURatioPdfsig  float64 `json:"cpu_ratio_to_pdfsig,omitempty"`
	PdfsigInstalled bool    `json:"pdfsig_installed"`
}

func runBenchVerify(ctx context.Context, args []string) error {
	flags := newFlagSet("bench verify", "bench verify DIR [--rounds N] [--processes N] [--pdfsig=false] [--trust-roots DIR] [--json]\n\n"+
		"Verifies every PDF under DIR in this process (after one warm-up pass, --rounds passes;\n"+
		"files/s and per-file latency), then runs `cunzheng verify pdf FILE` as a new process\n"+
		"for --processes files spread over DIR, each interleaved with poppler's `pdfsig -no-ocsp\n"+
		"FILE` when it is installed, so that both meet the same machine load, and reports the\n"+
		"median wall time and CPU time per file of each and their ratio. The targets: at least\n"+
		"500 files/s in-process, and verify pdf no slower than pdfsig. verify pdf runs as a user\n"+
		"runs it: handed over to cunzheng-verify when it lies beside the binary (make build), which\n"+
		"the result names; --in-process measures the server binary's own path instead.")
	rounds := flags.Int("rounds", 3, "in-process passes over the files, after one warm-up pass")
	procs := flags.Int("processes", 40, "files to verify one process each (0 skips the comparison)")
	usePdfsig := flags.Bool("pdfsig", true, "compare with poppler's pdfsig when it is installed")
	rootsDir := flags.String("trust-roots", "", "directory of PEM trust anchors, as for verify pdf")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	binary := flags.String("binary", "", "the cunzheng binary to run one process per file (default this one; another build to compare)")
	inProcess := flags.Bool("in-process", false, "verify pdf in the cunzheng process ("+startup.InProcessEnv+"=1), not handed over to cunzheng-verify")
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if dir == "" && flags.NArg() == 1 {
		dir = flags.Arg(0)
	} else if flags.NArg() != 0 || dir == "" {
		flags.Usage()
		return errors.New("want exactly one directory of PDFs")
	}
	if *rounds < 1 || *procs < 0 {
		return errors.New("--rounds must be at least 1 and --processes not negative")
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no PDF files under %s", dir)
	}
	slices.Sort(files)
	res := verifyBenchResult{Dir: dir, Files: len(files), Rounds: *rounds}

	// In-process.
	roots, err := verify.LoadRoots(*rootsDir, false)
	if err != nil {
		return err
	}
	opts := verify.Options{Roots: roots, SystemRoots: true}
	data := make([][]byte, len(files))
	for i, f := range files {
		if data[i], err = os.ReadFile(f); err != nil {
			return err
		}
	}
	var took []time.Duration
	start := time.Time{}
	for r := 0; r <= *rounds; r++ {
		if r == 1 {
			start = time.Now()
		}
		for _, b := range data {
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			_, err := verify.PDFBytes(fctx, b, opts)
			cancel()
			if r == 0 {
				if err != nil {
					res.Unreadable++
				}
				continue
			}
			took = append(took, time.Since(t0))
		}
	}
	elapsed := time.Since(start)
	res.FilesPerSec = float64(len(took)) / elapsed.Seconds()
	slices.Sort(took)
	res.InProcessP50Ms = ms(took[len(took)/2])
	res.InProcessP99Ms = ms(took[len(took)*99/100])
	res.InProcessMaxMs = ms(took[len(took)-1])

	// One process per file, interleaved with pdfsig.
	if *procs > 0 {
		self := *binary
		if self == "" {
			if self, err = os.Executable(); err != nil {
				return err
			}
		}
		pdfsig := ""
		if *usePdfsig {
			if p, err := exec.LookPath("pdfsig"); err == nil {
				pdfsig = p
				res.PdfsigInstalled = true
			}
		}
		env := withoutEnv(os.Environ(), startup.InProcessEnv)
		if *inProcess {
			env = append(env, startup.InProcessEnv+"=1")
		}
		if res.Path, err = verifyPath(ctx, self, env, files[0]); err != nil {
			return err
		}
		n := min(*procs, len(files))
		var ours, theirs, oursCPU, theirsCPU []time.Duration
		for i := 0; i < n; i++ {
			f := files[i*len(files)/n]
			wall, cpu, err := runOnce(ctx, env, self, "verify", "pdf", f)
			if err != nil {
				return err
			}
			ours, oursCPU = append(ours, wall), append(oursCPU, cpu)
			if pdfsig != "" {
				wall, cpu, err := runOnce(ctx, nil, pdfsig, "-no-ocsp", f)
				if err != nil {
					return err
				}
				theirs, theirsCPU = append(theirs, wall), append(theirsCPU, cpu)
			}
		}
		res.ProcessFiles = n
		res.OursMedianMs, res.OursMeanMs, res.OursCPUMs = median(ours), mean(ours), median(oursCPU)
		if len(theirs) > 0 {
			res.PdfsigMedianMs, res.PdfsigMeanMs, res.PdfsigCPUMs = median(theirs), mean(theirs), median(theirsCPU)
			res.RatioToPdfsig = res.OursMedianMs / res.PdfsigMedianMs
			res.CPURatioPdfsig = res.OursCPUMs / res.PdfsigCPUMs
		}
	}

	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("%d PDFs under %s (%d not readable as PDF)\n", res.Files, res.Dir, res.Unreadable)
	fmt.Printf("in-process:   %.0f files/s over %d passes; per file p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		res.FilesPerSec, res.Rounds, res.InProcessP50Ms, res.InProcessP99Ms, res.InProcessMaxMs)
	if res.ProcessFiles > 0 {
		fmt.Printf("verify pdf:   %d processes, median %.1f ms (mean %.1f), CPU %.1f ms per file (%s)\n", res.ProcessFiles, res.OursMedianMs, res.OursMeanMs, res.OursCPUMs, res.Path)
		switch {
		case res.PdfsigInstalled:
			fmt.Printf("pdfsig:       %d processes, median %.1f ms (mean %.1f), CPU %.1f ms per file\n", res.ProcessFiles, res.PdfsigMedianMs, res.PdfsigMeanMs, res.PdfsigCPUMs)
			fmt.Printf("ratio:        verify pdf / pdfsig = %.2f wall, %.2f CPU\n", res.RatioToPdfsig, res.CPURatioPdfsig)
		case *usePdfsig:
			fmt.Println("pdfsig:       not installed (apt-get install poppler-utils)")
		}
	}
	return nil
}

// Paths verifyPath tells apart.
const (
	pathHandedOver = "handed over to cunzheng-verify"
	pathInProcess  = "in process"
)

// verifyPath runs `bin verify pdf file` once with GODEBUG=inittrace=1 and
// tells from the packages initialised where it verified: package startup
// initialises only in the server binary, never in cunzheng-verify.
func verifyPath(ctx context.Context, bin string, env []string, file string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "verify", "pdf", file)
	cmd.Env = append(withoutEnv(env, "GODEBUG"), "GODEBUG=inittrace=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return "", fmt.Errorf("running %s: %w", filepath.Base(bin), err)
	}
	switch {
	case strings.Contains(stderr.String(), "init github.com/cunzheng/cunzheng/cmd/cunzheng/startup "):
		return pathInProcess, nil
	case strings.Contains(stderr.String(), "init "):
		return pathHandedOver, nil
	}
	return "", fmt.Errorf("%s verify pdf printed no GODEBUG=inittrace lines:\n%s", filepath.Base(bin), stderr.String())
}

// withoutEnv returns env without the variable key.
func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// runOnce runs one command to completion, whatever its exit status
// (verify pdf exits non-zero for every verdict but TOTAL-PASSED), and
// returns its wall time and the CPU time it used. env nil is this
// process's environment.
func runOnce(ctx context.Context, env []string, name string, args ...string) (time.Duration, time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, 0, fmt.Errorf("running %s: %w", filepath.Base(name), err)
	}
	st := cmd.ProcessState
	return wall, st.UserTime() + st.SystemTime(), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[len(s)/2])
}

func mean(ds []time.Duration) float64 {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return ms(t / time.Duration(len(ds)))
}
