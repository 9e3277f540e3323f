package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/imageserver"
	"github.com/hostpush/hostpush/internal/override"
)

// defineOutputFlags adds the flags of the output limits and the AVIF
// pool; they live here, apart from the older flags.
func defineOutputFlags(app *kingpin.Application, def imageserver.Config, over *override.Set[settings]) {
	i64, num, dur := (*kingpin.FlagClause).Int64Var, (*kingpin.FlagClause).IntVar, (*kingpin.FlagClause).DurationVar
	a := def.AVIF
	override.Field(over, app.Flag("limits.max-output-pixels", "Largest output in pixels (also the resized image before a crop or rotation); larger requests get 400.").
		Default(fmt.Sprint(def.Pipeline.MaxOutputPixels)), i64, func(s *settings) *int64 { return &s.cfg.Pipeline.MaxOutputPixels })
	override.Field(over, app.Flag("limits.max-avif-output-pixels", "Largest AVIF output in pixels (AVIF encoding needs about 40 bytes per pixel).").
		Default(fmt.Sprint(def.Pipeline.MaxAVIFOutputPixels)), i64, func(s *settings) *int64 { return &s.cfg.Pipeline.MaxAVIFOutputPixels })
	override.Field(over, app.Flag("avif.workers", "AVIF transforms run at once (each also holds one of the --workers).").
		Default(fmt.Sprint(a.Admission.Workers)), num, func(s *settings) *int { return &s.cfg.AVIF.Admission.Workers })
	override.Field(over, app.Flag("avif.queue-size", "AVIF requests that may wait for an AVIF worker.").
		Default(fmt.Sprint(a.Admission.QueueSize)), num, func(s *settings) *int { return &s.cfg.AVIF.Admission.QueueSize })
	override.Field(over, app.Flag("avif.queue-timeout", "Longest wait for an AVIF worker before answering 503.").
		Default(a.Admission.Timeout.String()), dur, func(s *settings) *time.Duration { return &s.cfg.AVIF.Admission.Timeout })
	override.Field(over, app.Flag("avif.transform-timeout", "Longest an AVIF transform may run.").
		Default(a.Timeout.String()), dur, func(s *settings) *time.Duration { return &s.cfg.AVIF.Timeout })
	override.Field(over, app.Flag("avif.auto-format", "Let auto=format answer AVIF to clients that accept it (AVIF costs more CPU and memory than WebP)."),
		(*kingpin.FlagClause).BoolVar, func(s *settings) *bool { return &s.cfg.AVIF.AutoFormat })
}

// avifFile is the avif: block of the configuration file.
type avifFile struct {
	Workers          *int           `yaml:"workers"`
	QueueSize        *int           `yaml:"queue_size"`
	QueueTimeout     *time.Duration `yaml:"queue_timeout"`
	TransformTimeout *time.Duration `yaml:"transform_timeout"`
	AutoFormat       *bool          `yaml:"auto_format"`
}

func (af avifFile) apply(a *imageserver.AVIFConfig) {
	set(&a.Admission.Workers, af.Workers)
	set(&a.Admission.QueueSize, af.QueueSize)
	set(&a.Admission.Timeout, af.QueueTimeout)
	set(&a.Timeout, af.TransformTimeout)
	set(&a.AutoFormat, af.AutoFormat)
}
