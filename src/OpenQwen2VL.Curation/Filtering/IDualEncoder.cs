using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// What the CLIP-score filter needs from a dual encoder (CLIP, SigLIP, DFN or our tiny one): image and text
/// embeddings in one space, and the learnable logit scale (log temperature) and bias of the SigLIP loss.
/// A pretrained SigLIP from OpenQwen2VL.Model can be adapted to this to score without training.
/// </summary>
public interface IDualEncoder
{
    /// <summary>[B, 3, H, W] normalised pixels → [B, D] (not normalised).</summary>
    Tensor EncodeImages(Tensor pixels);

    /// <summary>[B, L] token ids with 0 as padding → [B, D] (not normalised).</summary>
    Tensor EncodeTexts(Tensor tokenIds);

    Tensor LogitScale { get; }
    Tensor LogitBias { get; }

    IEnumerable<TorchSharp.Modules.Parameter> TrainableParameters();

    /// <summary>Switches between training and evaluation behaviour.</summary>
    void SetTraining(bool training);

    /// <summary>Saves the weights (TorchSharp format).</summary>
    void Save(string path);
}
