using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Projector;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Open-Qwen2VL: frozen SigLIP backbone (penultimate-block features) → pooled MLP projector → Qwen2 LM.
/// Each image marker (-200) in a sequence is replaced in place by its image's projected tokens (images
/// in order of appearance, row-major over the batch); positions run 0..L'-1 across packed samples (pre-training's
/// packing) unless the batch marks its rows' sequences (<see cref="VlmBatch.SegmentIds"/>, packed SFT: positions restart
/// and attention stays inside each), and labels are -100 at image tokens. Parameter names follow prismatic: <c>vision_backbone.vision_model.*</c>
/// (HF SigLIP keys), <c>projector.mlp_projector.*</c>, <c>llm_backbone.llm.*</c> (HF Qwen2 keys).
/// </summary>
public sealed class VisionLanguageModel : nn.Module<VlmBatch, VlmOutput>
{
    private readonly SiglipVisionModel vision_backbone;
    private readonly MlpProjector projector;
    private readonly LlmBackbone llm_backbone;

    public VlmConfig Config { get; }
    public SiglipVisionModel VisionBackbone => vision_backbone;
    public MlpProjector Projector => projector;
    public Qwen2ForCausalLM Llm => llm_backbone.Llm;

    /// <param name="dtype">floating dtype of the parameters, created directly in it without touching libtorch's
    /// process-wide default (null: that default, float32)</param>
    public VisionLanguageModel(VlmConfig config, ScalarType? dtype = null) : base(nameof(VisionLanguageModel))
    {
        Config = config;
        vision_backbone = new SiglipVisionModel(config.Vision, backbone: true, dtype);
        projector = new MlpProjector(config.Vision.HiddenSize, config.Llm.HiddenSize, config.PoolSide, dtype);
        llm_backbone = new LlmBackbone(config.Llm, dtype);
        RegisterComponents();
        // The vision tower is frozen in every Open-Qwen2VL stage.
        foreach (var p in vision_backbone.parameters()) p.requires_grad = false;
    }

    /// <summary>A randomly initialised model (HF init for the LM, PyTorch defaults elsewhere), seeded.</summary>
    public static VisionLanguageModel CreateRandom(VlmConfig config, long seed = 0)
    {
        manual_seed(seed);
        var model = new VisionLanguageModel(config);
        model.Llm.InitializeWeights();
        return model;
    }

    /// <summary>Logits, loss and image mask for a batch.</summary>
    public override VlmOutput forward(VlmBatch batch)
    {
        using var scope = NewDisposeScope();
        var inputs = Embed(batch);
        var logits = inputs.Segments is null ? Llm.Logits(inputsEmbeds: inputs.Embeds) : Llm.Head(Llm.HiddenStates(inputs.Embeds, inputs.Segments));
        var loss = CausalLmLoss.Compute(logits, inputs.Labels);
        return new VlmOutput(logits.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(), inputs.ImageMask.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Whether the vision tower is trained (SFT's optional unfreezing). Off: the tower runs under no_grad, so
    /// nothing of it is kept for backward; on: its parameters require gradients and it runs with autograd.
    /// </summary>
    public bool VisionTrainable
    {
        get => vision_backbone.parameters().Any(p => p.requires_grad);
        set { foreach (var p in vision_backbone.parameters()) p.requires_grad = value; }
    }

    /// <summary>Projected image tokens [N, PoolSide², Dl] for pixels [N, C, S, S]; a frozen vision tower runs without gradients.</summary>
    public Tensor ProjectImages(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        Tensor features;
        // call, not forward: the module's forward hooks fire only through call (a test counts tower runs with one).
        if (VisionTrainable) features = vision_backbone.call(pixels);
        else using (no_grad()) features = vision_backbone.call(pixels);
        var weight = projector.parameters().First();
        return projector.forward(features.to(weight.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Splices projected image tokens into the token embeddings of a batch.</summary>
    public VlmInputs Embed(VlmBatch batch)
    {
        using var scope = NewDisposeScope();
        var device = Llm.Decoder.EmbedWeight.device;
        var ids = batch.InputIds.to(device);
        long rows = ids.shape[0], len = ids.shape[1];
        // One host read per batch: the layout of the spliced sequence depends on where the markers are.
        var hostIds = batch.InputIds.cpu().data<long>().ToArray();
        var hostLabels = batch.Labels.cpu().data<long>().ToArray();
        var hostSegments = batch.SegmentIds?.cpu().data<long>().ToArray();
        int markers = hostIds.Count(t => t == VlmBatch.ImageMarker);
        if (batch.PixelValues is not null && batch.ImageTokens is not null) throw new ArgumentException("a batch gives its images as pixels or as projected tokens, not both");
        long images = batch.ImageTokens?.shape[0] ?? batch.PixelValues?.shape[0] ?? 0;
        if (markers != images) throw new ArgumentException($"batch has {markers} image markers but {images} images");

        var textEmbeds = Llm.Embed(ids.clamp_min(CachedScalars.Zero)).reshape(rows * len, -1);
        var sources = new List<Tensor> { textEmbeds };
        long perImage = 0;
        if (images > 0)
        {
            var projected = batch.ImageTokens?.to(device) ?? ProjectImages(batch.PixelValues!.to(device));
            perImage = projected.shape[1];
            sources.Add(projected.reshape(images * perImage, -1).to(textEmbeds.dtype));
        }
        long zeroRow = rows * len + images * perImage;
        sources.Add(zeros(1, textEmbeds.shape[1], dtype: textEmbeds.dtype, device: device));

        // Gather plan: for every output position, which source row it copies (text token, image token or zero padding).
        var lengths = new long[rows];
        for (long b = 0; b < rows; b++)
            for (long t = 0; t < len; t++)
                lengths[b] += hostIds[b * len + t] == VlmBatch.ImageMarker ? perImage : 1;
        long outLen = lengths.Max();
        var index = new long[rows * outLen];
        var labels = new long[rows * outLen];
        var isImage = new bool[rows * outLen];
        var segments = hostSegments is null ? null : new long[rows * outLen];
        if (segments is not null) Array.Fill(segments, -1L);   // spliced padding: a segment of its own, as the loader's padding
        Array.Fill(index, zeroRow);
        Array.Fill(labels, VlmBatch.IgnoreIndex);
        long image = 0;
        for (long b = 0; b < rows; b++)
        {
            long o = b * outLen;
            for (long t = 0; t < len; t++)
            {
                long src = b * len + t;
                if (segments is not null)
                {
                    long width = hostIds[src] == VlmBatch.ImageMarker ? perImage : 1;
                    Array.Fill(segments, hostSegments![src], (int)o, (int)width);
                }
                if (hostIds[src] == VlmBatch.ImageMarker)
                {
                    for (long k = 0; k < perImage; k++, o++) { index[o] = rows * len + image * perImage + k; isImage[o] = true; }
                    image++;
                }
                else { index[o] = src; labels[o] = hostLabels[src]; o++; }
            }
        }
        var embeds = cat(sources, 0).index_select(0, tensor(index, device: device)).view(rows, outLen, -1);
        var predicting = new List<long>();
        for (long b = 0; b < rows; b++)
            for (long t = 0; t + 1 < outLen; t++)
                if (labels[b * outLen + t + 1] != VlmBatch.IgnoreIndex) predicting.Add(b * outLen + t);
        return new VlmInputs(
            embeds.MoveToOuterDisposeScope(),
            tensor(labels, device: device).view(rows, outLen).MoveToOuterDisposeScope(),
            tensor(isImage, device: device).view(rows, outLen).MoveToOuterDisposeScope(),
            lengths, predicting.ToArray(), segments is null ? null : new PackedSegments(segments, rows, outLen));
    }

    /// <summary>Positions a prompt takes in the spliced sequence: each image marker becomes <see cref="VlmConfig.TokensPerImage"/> tokens.</summary>
    public long SplicedLength(IReadOnlyList<long> promptIds) =>
        promptIds.Count + promptIds.LongCount(t => t == VlmBatch.ImageMarker) * (Config.TokensPerImage - 1);

    /// <summary>
    /// Greedy continuation of one prompt (ids with image markers) and its images [n, C, S, S] in order;
    /// stops after a stop token (included) or <paramref name="maxNewTokens"/>.
    /// </summary>
    public long[] Generate(long[] promptIds, Tensor? pixels, int maxNewTokens, IReadOnlyCollection<long>? stopTokens = null, bool useCache = true) =>
        Generate([new GenerationPrompt(promptIds, pixels, new StopCriteria(stopTokens ?? []))], GenerationOptions.Greedy(maxNewTokens, useCache))[0];

    /// <summary>
    /// The input embeddings [1, L, D] of one prompt (ids with image markers) with its images' features spliced in, L =
    /// <see cref="SplicedLength"/>: what a <see cref="DecodingSession"/> prefills.
    /// </summary>
    public Tensor PromptEmbeds(GenerationPrompt prompt)
    {
        if (prompt.Ids.Length == 0) throw new ArgumentException("the prompt has no tokens", nameof(prompt));
        long markers = prompt.Ids.LongCount(t => t == VlmBatch.ImageMarker);
        long given = prompt.ImageCount;
        if (markers != given) throw new ArgumentException($"the prompt has {markers} image markers but {given} images", nameof(prompt));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(prompt.Ids, [1, prompt.Ids.Length]);
        using var batch = new VlmBatch
        {
            InputIds = ids, Labels = ids.alias(),
            PixelValues = given > 0 ? prompt.Pixels?.alias() : null, ImageTokens = given > 0 ? prompt.ImageTokens?.alias() : null,
        };
        return Embed(batch).Embeds.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Continues a batch of prompts of any lengths and image counts at once (see <see cref="BatchGeneration"/>): all
    /// images go through the vision tower together (or come projected already, <see cref="GenerationPrompt.ImageTokens"/>),
    /// the spliced rows are left-padded, each row stops on its own.
    /// Each row gets the tokens it gets alone.
    /// </summary>
    /// <param name="onToken">per-token hook of <see cref="BatchGeneration.Run"/>: (prompt index, id); false ends that row</param>
    /// <returns>new ids per prompt, in order</returns>
    /// <exception cref="PromptTooLongException">a prompt leaves no room under max_position_embeddings (see <see cref="SplicedLength"/>)</exception>
    public long[][] Generate(IReadOnlyList<GenerationPrompt> prompts, GenerationOptions options, Func<int, long, bool>? onToken = null)
    {
        if (prompts.Count == 0) return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int rows = prompts.Count;
        int width = prompts.Max(p => p.Ids.Length);
        if (width == 0) throw new ArgumentException("a prompt has no tokens");
        var ids = new long[rows * width]; // right-padded with id 0 (dropped below)
        var images = new List<Tensor>();
        var imageTokens = new List<Tensor>();
        for (int r = 0; r < rows; r++)
        {
            var p = prompts[r];
            if (p.Ids.Length == 0) throw new ArgumentException($"prompt {r} has no tokens");
            long markers = p.Ids.LongCount(t => t == VlmBatch.ImageMarker);
            long given = p.ImageCount;
            if (markers != given) throw new ArgumentException($"prompt {r} has {markers} image markers but {given} images");
            p.Ids.CopyTo(ids, r * width);
            if (given == 0) continue;
            if (p.Pixels is not null) images.Add(p.Pixels);
            else imageTokens.Add(p.ImageTokens!);
        }
        // Images in marker order across rows: all as pixels or all as projected tokens.
        if (images.Count > 0 && imageTokens.Count > 0) throw new ArgumentException("give every prompt's images as pixels or every prompt's as projected tokens, not a mix");
        var idTensor = tensor(ids, [rows, width]);
        using var batch = new VlmBatch
        {
            InputIds = idTensor, Labels = idTensor.alias(),
            PixelValues = Joined(images), ImageTokens = Joined(imageTokens),
        };
        var inputs = Embed(batch);
        // Embed keeps the id padding as trailing positions: a row's real length leaves them out.
        var lengths = Enumerable.Range(0, rows).Select(r => inputs.Lengths[r] - (width - prompts[r].Ids.Length)).ToArray();
        var embeds = LeftPadding.FromRightPadded(inputs.Embeds, lengths);
        var textIds = prompts.Select(p => (IReadOnlyList<long>)p.Ids.Where(t => t >= 0).ToArray()).ToArray();
        return BatchGeneration.Run(Llm, embeds, lengths, options, prompts.Select(p => p.Stop).ToArray(), textIds, onToken);
    }

    private static Tensor? Joined(List<Tensor> parts) => parts.Count switch { 0 => null, 1 => parts[0].alias(), _ => cat(parts, 0) };
}
