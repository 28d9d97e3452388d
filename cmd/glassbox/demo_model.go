package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// loanModel is the demo's built-in model: a loan-approval scorer that
// follows the SageMaker container contract (POST /invocations, GET /ping).
//
// CSV input: one applicant per line, "income,loan_amount,credit_score,years_employed";
// the answer is one probability per line (text/csv).
// JSON input: {"income":..,"loan_amount":..,"credit_score":..,"years_employed":..}
// or {"instances":[{...},...]}; the answer is {"predictions":[{"score":..,"approved":..}]}.
type loanModel struct {
	// bias shifts every score; the demo's challenger variant is stricter.
	bias float64
}

type applicant struct {
	Income        float64 `json:"income"`
	LoanAmount    float64 `json:"loan_amount"`
	CreditScore   float64 `json:"credit_score"`
	YearsEmployed float64 `json:"years_employed"`
}

// score is a logistic model over a few ratios; it is a demo, not advice.
func (m loanModel) score(a applicant) float64 {
	ratio := a.LoanAmount / math.Max(a.Income, 1)
	z := 0.012*(a.CreditScore-620) - 2.2*ratio + 0.15*math.Min(a.YearsEmployed, 10) + 0.4 + m.bias
	return 1 / (1 + math.Exp(-z))
}

func (m loanModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/ping":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && r.URL.Path == "/invocations":
		m.invoke(w, r)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (m loanModel) invoke(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	switch ct {
	case "text/csv":
		rows, err := csv.NewReader(&body).ReadAll()
		if err != nil {
			http.Error(w, "bad CSV: "+err.Error(), http.StatusBadRequest)
			return
		}
		var out strings.Builder
		for i, row := range rows {
			a, err := parseApplicantRow(row)
			if err != nil {
				http.Error(w, fmt.Sprintf("row %d: %v", i+1, err), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(&out, "%.6f\n", m.score(a))
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write([]byte(out.String()))
	case "application/json":
		var req struct {
			applicant
			Instances []applicant `json:"instances"`
		}
		if err := json.Unmarshal(body.Bytes(), &req); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad JSON: " + err.Error()})
			return
		}
		if len(req.Instances) == 0 {
			req.Instances = []applicant{req.applicant}
		}
		type prediction struct {
			Score    float64 `json:"score"`
			Approved bool    `json:"approved"`
		}
		var preds []prediction
		for _, a := range req.Instances {
			s := math.Round(m.score(a)*1e6) / 1e6
			preds = append(preds, prediction{Score: s, Approved: s >= 0.5})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"predictions": preds})
	default:
		http.Error(w, "unsupported content type "+strconv.Quote(ct)+"; send text/csv or application/json", http.StatusUnsupportedMediaType)
	}
}

func parseApplicantRow(row []string) (applicant, error) {
	if len(row) != 4 {
		return applicant{}, fmt.Errorf("want 4 columns (income,loan_amount,credit_score,years_employed), got %d", len(row))
	}
	var v [4]float64
	for i, s := range row {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return applicant{}, fmt.Errorf("column %d: %q is not a number", i+1, s)
		}
		v[i] = f
	}
	return applicant{Income: v[0], LoanAmount: v[1], CreditScore: v[2], YearsEmployed: v[3]}, nil
}

// startModel serves m on a free loopback port and returns its base URL and
// a stop function.
func startModel(m loanModel) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start demo model: %w", err)
	}
	srv := &http.Server{Handler: m}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
