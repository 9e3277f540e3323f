package pipeline

import (
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"
)

// render computes the graph built so far (decode, crop, resize, rotate,
// colour) into memory when a later step reads regions more than once or
// in another order than the graph computes them: the entropy search reads
// the whole image and then cuts from it, and the shrunk blur's reduction
// pulls rows through the rotation (blur=200 cost 2.5x without it). A
// Gaussian of sigma <= directSigma reads little overlap and does not need
// it. Rendering costs a round
// trip through an uncompressed TIFF in memory (govips has no copy-to-memory
// call), measured at about 15 % of the seed transform, so it is skipped
// whenever it does not pay.
func (p *Pipeline) render(s *state) error {
	if !s.plan.Entropy && BlurSigma(s.opts.Blur, s.opts.DPR) <= directSigma {
		return nil
	}
	out, err := materialize(s.img)
	if err != nil {
		return vipsErr(err)
	}
	s.img.Close()
	s.img = out
	return nil
}

// materialize returns a copy of img computed into memory.
func materialize(img *vips.ImageRef) (*vips.ImageRef, error) {
	buf, _, err := img.ExportTiff(&vips.TiffExportParams{Compression: vips.TiffCompressionNone, Predictor: vips.TiffPredictorNone, TileWidth: 256, TileHeight: 256})
	if err != nil {
		return nil, fmt.Errorf("rendering to memory: %w", err)
	}
	out, err := vips.LoadImageFromBuffer(buf, vips.NewImportParams())
	if err != nil {
		return nil, fmt.Errorf("reading rendered image: %w", err)
	}
	return out, nil
}
