package baseline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reader is the one CSV reader for baseline files, shared by Parse and learn.ReadCSV so that
// whatever the learner writes the component reads, and the other way round.
type Reader struct {
	file   string
	cr     *csv.Reader
	fields int // the header's field count; 0 before the header is read
}

// NewReader reads CSV from r; file names it in errors.
func NewReader(r io.Reader, file string) *Reader {
	br := bufio.NewReader(r)
	// Splunk and Excel exports may start with a UTF-8 BOM, which would otherwise become part of the first header name.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, to say which row and how many fields
	cr.ReuseRecord = true
	return &Reader{file: file, cr: cr}
}

// Header returns the header's names, trimmed, in a slice of the caller's; io.EOF is an empty
// file, which each caller words for what it expects.
func (r *Reader) Header() ([]string, error) {
	rec, err := r.cr.Read()
	if err != nil {
		return nil, r.csvError(err)
	}
	names := make([]string, len(rec))
	for i, raw := range rec {
		names[i] = strings.TrimSpace(raw)
	}
	r.fields = len(rec)
	return names, nil
}

// Next returns the next row, io.EOF after the last; the slice is reused by the following call.
func (r *Reader) Next() ([]string, error) {
	rec, err := r.cr.Read()
	if err != nil {
		return nil, r.csvError(err)
	}
	if len(rec) != r.fields {
		line, _ := r.cr.FieldPos(0)
		return nil, &Error{File: r.file, Line: line, Msg: fmt.Sprintf("row has %d fields, header has %d", len(rec), r.fields)}
	}
	return rec, nil
}

// Line returns the line on which field i of the last row (or the header) starts; quoted cells may span lines.
func (r *Reader) Line(i int) int {
	line, _ := r.cr.FieldPos(i)
	return line
}

// ErrorAt is an error at field i (0-based) of the last row read.
func (r *Reader) ErrorAt(i int, msg string) *Error {
	return &Error{File: r.file, Line: r.Line(i), Column: i + 1, Msg: msg}
}

// File returns the name used in errors.
func (r *Reader) File() string { return r.file }

func (r *Reader) csvError(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// encoding/csv reports a syntax error's column in bytes, not fields.
		return &Error{File: r.file, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	return &Error{File: r.file, Msg: err.Error()} // a read error of the underlying reader
}

// maxQuoted bytes of a cell are enough to recognise it in an error, and keep a 10 MB cell out of the log.
const maxQuoted = 100

// Quote quotes a cell or header name for an error message, cut at maxQuoted bytes.
func Quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > maxQuoted-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut-- // do not split a character, so the quoted part stays readable
	}
	return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// clip is Quote for text known to be plain (a decimal number), which reads better unquoted.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// CheckKey says what is wrong with a key (empty, not UTF-8, spaces around, control
// characters), or "". No Kubernetes name is like that, and such a key would be written back
// into a file that no longer reads; other forms are harmless: they never match a pod.
func CheckKey(key string) string {
	switch {
	case strings.TrimSpace(key) == "":
		return "empty key"
	case !utf8.ValidString(key):
		return "key " + Quote(key) + " is not valid UTF-8"
	case strings.TrimSpace(key) != key:
		return "key " + Quote(key) + " has leading or trailing spaces"
	}
	if i := strings.IndexFunc(key, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(key[i:])
		return fmt.Sprintf("key %s has a control character (%U)", Quote(key), r)
	}
	return ""
}

// Bounds on a baseline's numbers, ratios or byte counts, so never negative. MaxValue keeps
// avg + k*stdev finite for any stdev_multiplier up to 1e8; MinStdev refuses an underflow (a
// subnormal has lost its precision, and (v-avg)/stdev overflows for any ordinary difference).
const (
	MaxValue = 1e300
	MinStdev = 1e-300
)

// ParseNumber reads an avg_ or stdev_ cell: blank is no value; else plain decimal, as Splunk
// writes it, within the bounds above. msg says what is wrong, or is "".
func ParseNumber(cell string, isStdev bool) (v float64, present bool, msg string) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return 0, false, ""
	}
	// ParseFloat alone would also take hex, underscores, "Inf" and "NaN".
	if strings.ContainsFunc(s, notDecimal) {
		return 0, false, Quote(cell) + " is not a number"
	}
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, false, Quote(cell) + " is not a number (out of float64 range)"
	case err != nil:
		return 0, false, Quote(cell) + " is not a number"
	case isStdev && v < 0:
		return 0, false, "negative standard deviation " + clip(s)
	case v < 0:
		return 0, false, "negative average " + clip(s) + ": every signal is a ratio or a volume, never negative"
	case v > MaxValue:
		return 0, false, fmt.Sprintf("%s is larger than %g: the threshold avg + k*stdev would not be finite", clip(s), MaxValue)
	case isStdev && (v != 0 && v < MinStdev || v == 0 && nonZeroMantissa(s)):
		// ParseFloat gives 0 without an error for 1e-400: that is an underflow too, not "no spread".
		return 0, false, fmt.Sprintf("standard deviation %s is above 0 but below %g: too small to divide by", clip(s), MinStdev)
	}
	return v, true, ""
}

// FormatNumber prints v as the searches print numbers: the shortest decimal that reads back as
// v, without an exponent.
func FormatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// nonZeroMantissa reports whether decimal text has a non-zero digit before its exponent.
func nonZeroMantissa(s string) bool {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	return strings.ContainsAny(s, "123456789")
}

func notDecimal(r rune) bool {
	return !(r >= '0' && r <= '9' || r == '.' || r == 'e' || r == 'E' || r == '+' || r == '-')
}
