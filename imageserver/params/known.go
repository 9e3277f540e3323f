package params

// imgixNames are the parameter names of imgix's Rendering API (its
// published parameter list, version 11.35.0), and imgixAliases the other names
// it accepts for some of them. A name here that Options does not implement
// is ignored, as imgix ignores what it does not know, but reported (the
// X-Imageserver-Ignored-Params header and a counter labelled with the
// canonical name, so the label set is bounded by this list).
var imgixNames = set(
	"ar", "auto", "bg", "bg-remove", "bg-remove-fallback", "bg-remove-fg-type",
	"bg-remove-semi-transparency", "bg-remove-transparency-threshold", "bg-replace",
	"bg-replace-fallback", "bg-replace-neg-prompt", "blend", "blend-align", "blend-alpha",
	"blend-color", "blend-crop", "blend-fit", "blend-h", "blend-mode", "blend-pad", "blend-size",
	"blend-w", "blend-x", "blend-y", "blur", "border", "border-bottom", "border-left",
	"border-radius", "border-radius-inner", "border-right", "border-stroke-color",
	"border-stroke-size", "border-top", "bri", "ch", "chromasub", "colorquant", "colors", "con",
	"corner-radius", "crop", "cs", "dl", "dpi", "dpr", "duotone", "duotone-alpha", "exp", "expires",
	"face-blur", "face-pixel", "faceindex", "facepad", "faces", "fill", "fill-color",
	"fill-gen-fallback", "fill-gen-neg-prompt", "fill-gen-pos", "fill-gen-prompt", "fill-gen-seed",
	"fill-gradient-cs", "fill-gradient-linear", "fill-gradient-linear-direction",
	"fill-gradient-radial", "fill-gradient-radial-radius", "fill-gradient-radial-x",
	"fill-gradient-radial-y", "fill-gradient-type", "fit", "flip", "fm", "fp-debug", "fp-x", "fp-y",
	"fp-z", "fps", "frame", "gam", "grid-colors", "grid-size", "h", "high", "htn", "hue", "interval",
	"invert", "iptc", "jpg-progressive", "loop", "lossless", "lp-blur", "mark", "mark-align",
	"mark-alpha", "mark-base", "mark-fit", "mark-h", "mark-if-min-height", "mark-if-min-width",
	"mark-pad", "mark-rot", "mark-scale", "mark-tile", "mark-w", "mark-x", "mark-y", "mask",
	"mask-bg", "max-h", "max-w", "min-h", "min-w", "monochrome", "nr", "nrs",
	"object-removal-negative-prompt", "object-removal-prompt", "object-removal-rect",
	"object-removal-seed", "orient", "pad", "pad-bottom", "pad-left", "pad-right", "pad-top", "page",
	"palette", "pdf-annotation", "prefix", "px", "q", "rasterize-bypass", "rect", "reverse", "rot",
	"rot-type", "sat", "sepia", "shad", "sharp", "skip", "svg-sanitize", "transparency", "trim",
	"trim-alpha", "trim-color", "trim-md", "trim-pad", "trim-sd", "trim-tol", "txt", "txt-align",
	"txt-clip", "txt-color", "txt-fit", "txt-font", "txt-lead", "txt-line", "txt-line-color",
	"txt-pad", "txt-shad", "txt-size", "txt-track", "txt-width", "txt-x", "txt-y", "upscale",
	"upscale-fallback", "usm", "usmrad", "vib", "video-bitrate", "video-clip-end", "video-clip-start",
	"video-codec", "video-thumbnail", "w",
)

var imgixAliases = map[string]string{
	"annotation": "pdf-annotation", "b": "blend", "ba": "blend-align",
	"background-removal-semi-transparency": "bg-remove-semi-transparency",
	"background-remove":                    "bg-remove", "background-replace": "bg-replace",
	"background-replace-negative-prompt": "bg-replace-neg-prompt", "balph": "blend-alpha",
	"bc": "blend-crop", "bf": "blend-fit",
	"bg-remove-transparency-threshold": "bg-remove-transparency-threshold", "bh": "blend-h",
	"blend-clr": "blend-color", "blendalign": "blend-align", "blendalpha": "blend-alpha",
	"blendclr": "blend-color", "blendcolor": "blend-color", "blendcrop": "blend-crop",
	"blendfit": "blend-fit", "blendh": "blend-h", "blendmode": "blend-mode", "blendpad": "blend-pad",
	"blendsize": "blend-size", "blendw": "blend-w", "blendx": "blend-x", "blendy": "blend-y",
	"bm": "blend-mode", "bp": "blend-pad", "bs": "blend-size", "bw": "blend-w", "bx": "blend-x",
	"by": "blend-y", "f": "fit", "face-pixelate": "face-pixel",
	"fill-generative-fallback":        "fill-gen-fallback",
	"fill-generative-negative-prompt": "fill-gen-neg-prompt",
	"fill-generative-position":        "fill-gen-pos", "fill-generative-prompt": "fill-gen-prompt",
	"fill-generative-seed": "fill-gen-seed", "fillcolor": "fill-color", "height": "h",
	"inv": "invert", "jpeg-progressive": "jpg-progressive", "license-plate-blur": "lp-blur",
	"m": "mark", "ma": "mark-align", "malph": "mark-alpha", "markalign": "mark-align",
	"markalpha": "mark-alpha", "markbase": "mark-base", "markfit": "mark-fit", "markh": "mark-h",
	"markpad": "mark-pad", "markscale": "mark-scale", "marktile": "mark-tile", "markw": "mark-w",
	"markx": "mark-x", "marky": "mark-y", "maskbg": "mask-bg", "max-height": "max-h",
	"max-width": "max-w", "mb": "mark-base", "mf": "mark-fit", "mh": "mark-h", "min-height": "min-h",
	"min-width": "min-w", "mono": "monochrome", "mp": "mark-pad", "ms": "mark-scale",
	"mtile": "mark-tile", "mw": "mark-w", "mx": "mark-x", "my": "mark-y", "or": "orient",
	"rott": "rot-type", "rottype": "rot-type", "t": "txt", "ta": "txt-align", "tc": "txt-color",
	"tcl": "txt-clip", "tf": "txt-font", "tl": "txt-line", "tp": "txt-pad", "trimcolor": "trim-color",
	"trimmd": "trim-md", "trimpad": "trim-pad", "trimsd": "trim-sd", "trimtol": "trim-tol",
	"tsh": "txt-shad", "tsz": "txt-size", "tt": "txt-track", "txt-clr": "txt-color",
	"txt-line-clr": "txt-line-color", "txtalign": "txt-align", "txtclip": "txt-clip",
	"txtclr": "txt-color", "txtcolor": "txt-color", "txtfit": "txt-fit", "txtfont": "txt-font",
	"txtlead": "txt-lead", "txtline": "txt-line", "txtlineclr": "txt-line-color",
	"txtlinecolor": "txt-line-color", "txtpad": "txt-pad", "txtshad": "txt-shad",
	"txtsize": "txt-size", "txttrack": "txt-track", "txtwidth": "txt-width", "txtx": "txt-x",
	"txty": "txt-y", "width": "w",
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
