using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>
/// Initialisation for a SigLIP vision tower trained from scratch (the tiny preset; real runs load a pre-trained
/// SigLIP), so that even frozen it hands the VLM what each patch shows and where it is:
/// <list type="bullet">
/// <item>every block's residual branch ends in zeros (attention <c>out_proj</c> and MLP <c>fc2</c>), so each block
/// starts as the identity (the "zero-init the last layer of each residual branch" practice). With PyTorch's default
/// init the random blocks mix all patches, and on the demo's scenes, where a few patches hold the objects, that
/// averaged the objects away (features varied 5x more across images than across the patches of one image);</item>
/// <item>the learned position table starts as a 2-D sine-cosine code of (row, column) (MAE's initialisation), so a
/// patch's place is a linear read-out; random positions made "where are the shapes?" a lottery (measured in the
/// demo: 22-94 % over four otherwise similar runs).</item>
/// </list>
/// </summary>
public static class SiglipScratchInit
{
    /// <summary>Longest wavelength of the position code in patches (100, not MAE's 10000: the grids here are a few patches wide).</summary>
    public const double PositionBase = 100;

    public static void Apply(SiglipVisionTransformer tower)
    {
        ZeroResidualBranchOutputs(tower);
        SinCosPositions(tower);
    }

    public static void ZeroResidualBranchOutputs(nn.Module tower)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in tower.named_parameters())
            if (name.Contains(".self_attn.out_proj.", StringComparison.Ordinal) || name.Contains(".mlp.fc2.", StringComparison.Ordinal))
                p.zero_();
    }

    /// <summary>
    /// Position p = row·G + col gets [sin(row·ω), cos(row·ω), sin(col·ω), cos(col·ω)] over D/4 frequencies
    /// ω_k = PositionBase^(-k/(D/4)), scaled to HF's init spread (std 1/√D).
    /// </summary>
    public static void SinCosPositions(SiglipVisionTransformer tower)
    {
        var config = tower.Config;
        int side = config.GridSide, dim = config.HiddenSize, quarter = dim / 4;
        if (dim % 4 != 0) throw new ArgumentException($"hidden size {dim} is not a multiple of 4");
        var table = new float[side * side * dim];
        double scale = Math.Sqrt(2.0 / dim); // sin/cos have mean square 1/2: the table's std becomes 1/√D
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
            {
                int at = (row * side + col) * dim;
                for (int k = 0; k < quarter; k++)
                {
                    double omega = Math.Pow(PositionBase, -(double)k / quarter);
                    table[at + k] = (float)(scale * Math.Sin(row * omega));
                    table[at + quarter + k] = (float)(scale * Math.Cos(row * omega));
                    table[at + 2 * quarter + k] = (float)(scale * Math.Sin(col * omega));
                    table[at + 3 * quarter + k] = (float)(scale * Math.Cos(col * omega));
                }
            }
        using var noGrad = no_grad();
        var weight = tower.named_parameters().Single(p => p.name == "embeddings.position_embedding.weight").parameter;
        using var values = tensor(table, [side * side, dim]);
        weight.copy_(values);
    }
}
