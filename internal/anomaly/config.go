package anomaly

import (
	"fmt"
	"math"
	"slices"

	"github.com/checkstack/checkstack/internal/rpc"
)

// Settings tune detection. A check has its own (updateAnomalyConfig); a
// system's assignment of the check may override any of them
// (updateAnomalyAssignmentConfig). Every field is optional: an absent one
// inherits, from the check's settings, then from the field's defaults.
// Fields overrides them for one field (latencyMs, …).
type Settings struct {
	Overrides
	Fields map[string]Overrides `json:"fields,omitempty"`
}

// Overrides are the settings one level sets; nil fields inherit.
type Overrides struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Sensitivity scales the margin a value must leave: margin = 3 ×
	// spread × sensitivity, so 2 is half as quick to flag as 1 (0.1–10).
	Sensitivity *float64 `json:"sensitivity,omitempty"`
	// ConfirmationWindow is how many anomalous runs in a row confirm a
	// spike (1–20).
	ConfirmationWindow *int       `json:"confirmationWindow,omitempty"`
	Direction          *Direction `json:"direction,omitempty"`
	DriftEnabled       *bool      `json:"driftEnabled,omitempty"`
	// DriftThreshold is the trend, in spreads per day, that counts as
	// drift (0.01–100).
	DriftThreshold *float64 `json:"driftThreshold,omitempty"`
	// MinAbsoluteDelta and MinRelativeDelta are the practical floors a
	// value must also pass: |value − centre| at least this much, and at
	// least this fraction of the centre.
	MinAbsoluteDelta *float64 `json:"minAbsoluteDelta,omitempty"`
	MinRelativeDelta *float64 `json:"minRelativeDelta,omitempty"`
	// BaselineWindowDays is how many days of runs a baseline learns from
	// (1–30).
	BaselineWindowDays *int `json:"baselineWindowDays,omitempty"`
}

// Effective are the settings that apply to one field of a check on a
// system, every one decided.
type Effective struct {
	Enabled            bool      `json:"enabled"`
	Sensitivity        float64   `json:"sensitivity"`
	ConfirmationWindow int       `json:"confirmationWindow"`
	Direction          Direction `json:"direction"`
	DriftEnabled       bool      `json:"driftEnabled"`
	DriftThreshold     float64   `json:"driftThreshold"`
	MinAbsoluteDelta   float64   `json:"minAbsoluteDelta"`
	MinRelativeDelta   float64   `json:"minRelativeDelta"`
	BaselineWindowDays int       `json:"baselineWindowDays"`
}

// Rule is the part of the settings that judges one value.
func (e Effective) Rule() Rule {
	return Rule{Sensitivity: e.Sensitivity, Direction: e.Direction, MinAbsoluteDelta: e.MinAbsoluteDelta, MinRelativeDelta: e.MinRelativeDelta}
}

// The defaults.
const (
	DefaultSensitivity        = 1.0
	DefaultConfirmationWindow = 3
	DefaultDriftThreshold     = 0.5
	DefaultBaselineWindowDays = 7
	// Drift is confirmed after this many analyzer runs in a row see it,
	// and recovers after this many see none.
	driftConfirm, driftRecover = 2, 3
)

// Defaults are the settings of a field nobody tuned: on, sensitivity 1,
// confirmed after 3 runs, drift on at 0.5 spreads a day, 7 days of
// baseline, and per field its bad direction and floors.
func Defaults(field string) Effective {
	e := Effective{Enabled: true, Sensitivity: DefaultSensitivity, ConfirmationWindow: DefaultConfirmationWindow,
		DriftEnabled: true, DriftThreshold: DefaultDriftThreshold, BaselineWindowDays: DefaultBaselineWindowDays}
	switch field {
	case FieldLatency: // 10 ms and a quarter more, at least
		e.Direction, e.MinAbsoluteDelta, e.MinRelativeDelta = Higher, 10, 0.25
	case FieldResponseBytes:
		e.Direction, e.MinAbsoluteDelta, e.MinRelativeDelta = Higher, 256, 0.1
	case FieldTLSDaysLeft, FieldDaysLeft:
		e.Direction, e.MinAbsoluteDelta = Lower, 1
	default: // an answer count: any change of one or more
		e.Direction, e.MinAbsoluteDelta = Both, 1
	}
	return e
}

// effective layers the check's and the assignment's settings over the
// field's defaults.
func effective(field string, check, assignment Settings) Effective {
	e := Defaults(field)
	for _, o := range []Overrides{check.Overrides, check.Fields[field], assignment.Overrides, assignment.Fields[field]} {
		o.apply(&e)
	}
	return e
}

func (o Overrides) apply(e *Effective) {
	set(&e.Enabled, o.Enabled)
	set(&e.Sensitivity, o.Sensitivity)
	set(&e.ConfirmationWindow, o.ConfirmationWindow)
	set(&e.Direction, o.Direction)
	set(&e.DriftEnabled, o.DriftEnabled)
	set(&e.DriftThreshold, o.DriftThreshold)
	set(&e.MinAbsoluteDelta, o.MinAbsoluteDelta)
	set(&e.MinRelativeDelta, o.MinRelativeDelta)
	set(&e.BaselineWindowDays, o.BaselineWindowDays)
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Validate checks settings, naming the field under prefix ("config").
func (s Settings) Validate(prefix string) error {
	if err := s.Overrides.validate(prefix); err != nil {
		return err
	}
	for f, o := range s.Fields {
		if !slices.Contains(Fields, f) {
			return rpc.Invalid(prefix+".fields."+f, fmt.Sprintf("unknown field (one of %v)", Fields))
		}
		if o.BaselineWindowDays != nil {
			return rpc.Invalid(prefix+".fields."+f+".baselineWindowDays", "is set for the whole check, not per field")
		}
		if err := o.validate(prefix + ".fields." + f); err != nil {
			return err
		}
	}
	return nil
}

func (o Overrides) validate(prefix string) error {
	in := func(field string, v *float64, lo, hi float64) error {
		if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
			return rpc.Invalid(prefix+"."+field, fmt.Sprintf("must be between %g and %g", lo, hi))
		}
		return nil
	}
	inInt := func(field string, v *int, lo, hi int) error {
		if v != nil && (*v < lo || *v > hi) {
			return rpc.Invalid(prefix+"."+field, fmt.Sprintf("must be between %d and %d", lo, hi))
		}
		return nil
	}
	err := rpc.FirstErr(
		in("sensitivity", o.Sensitivity, 0.1, 10),
		inInt("confirmationWindow", o.ConfirmationWindow, 1, 20),
		in("driftThreshold", o.DriftThreshold, 0.01, 100),
		in("minAbsoluteDelta", o.MinAbsoluteDelta, 0, math.MaxFloat64),
		in("minRelativeDelta", o.MinRelativeDelta, 0, 10),
		inInt("baselineWindowDays", o.BaselineWindowDays, 1, 30),
	)
	if err != nil {
		return err
	}
	if d := o.Direction; d != nil && *d != Higher && *d != Lower && *d != Both {
		return rpc.Invalid(prefix+".direction", `must be "higher", "lower" or "both"`)
	}
	return nil
}
