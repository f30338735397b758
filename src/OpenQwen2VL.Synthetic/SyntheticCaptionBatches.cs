using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Loading;

namespace OpenQwen2VL.Synthetic;

/// <summary>
/// A small, learnable, deterministic packed caption dataset for tests, smoke runs and benchmarks (`--data
/// synthetic:N`). Each sequence packs <c>ImagesPerSequence</c> samples `&lt;s&gt; &lt;image&gt; caption &lt;eos&gt;`;
/// an image is a flat colour of one of <c>Classes</c> classes and its caption is a fixed token string of that
/// class, so a model can only predict the caption by looking at the image. Captions vary in length, rows are
/// right-padded to a common text length (same image count per row, so rows stay equal after the splice).
/// Sequence i is a pure function of (seed, i); the dataset of N sequences repeats. Pixels are made already
/// normalised (mean/std 0.5), so no image codec is involved.
/// </summary>
public sealed class SyntheticCaptionBatches : IBatchStream
{
    public const long Pad = 0, Bos = 1, Eos = 2, FirstCaptionToken = 3;

    readonly int _count, _micro, _rank, _world, _imageSize, _images, _classes, _maxCaption;
    readonly long _seed;
    long _next;   // micro-batches of this rank already served

    public SyntheticCaptionBatches(int sequences, int microBatch, int imageSize, int vocab, long seed,
        int rank = 0, int world = 1, int imagesPerSequence = 2, int classes = 4, int maxCaption = 6)
    {
        if (sequences <= 0 || microBatch <= 0) throw new ArgumentException("sequences and micro-batch must be positive");
        if (classes is < 1 or > 8) throw new ArgumentException("1..8 classes (one colour per class)");
        if (FirstCaptionToken + classes * maxCaption > vocab) throw new ArgumentException($"vocab {vocab} too small for {classes} classes");
        _count = sequences; _micro = microBatch; _rank = rank; _world = world; _imageSize = imageSize;
        _seed = seed; _images = imagesPerSequence; _classes = classes; _maxCaption = maxCaption;
    }

    /// <summary>Text positions per row (markers count one each).</summary>
    public int TextLength => _images * (3 + _maxCaption);

    public DataBatch Next()
    {
        long first = (_next * _world + _rank) * _micro;
        _next++;
        var ids = new long[_micro * TextLength];
        var labels = new long[_micro * TextLength];
        var pixels = new float[_micro * _images * 3 * _imageSize * _imageSize];
        int plane = _imageSize * _imageSize;
        var exampleIds = new string[_micro];
        for (int b = 0; b < _micro; b++)
        {
            long seq = (first + b) % _count;
            exampleIds[b] = $"synthetic:{seq}";
            var rng = new Random(unchecked((int)(_seed * 1_000_003 + seq)));
            int pos = b * TextLength, end = pos + TextLength;
            for (int k = 0; k < _images; k++)
            {
                int cls = rng.Next(_classes);
                int len = 2 + (cls + k) % (_maxCaption - 1);
                Put(ids, labels, ref pos, Bos, true);
                Put(ids, labels, ref pos, CaptionSampleMarker, false);
                for (int j = 0; j < len; j++) Put(ids, labels, ref pos, FirstCaptionToken + cls * _maxCaption + j, true);
                Put(ids, labels, ref pos, Eos, true);
                int img = (b * _images + k) * 3 * plane;
                for (int c = 0; c < 3; c++)
                {
                    // Class colour per channel in [-1, 1] (already normalised with mean/std 0.5), plus faint noise.
                    float v = ((cls >> c) & 1) == 1 ? 0.8f : -0.8f;
                    for (int i = 0; i < plane; i++) pixels[img + c * plane + i] = v + (float)(rng.NextDouble() - 0.5) * 0.1f;
                }
            }
            while (pos < end) Put(ids, labels, ref pos, Pad, false);
        }
        return new DataBatch
        {
            BatchSize = _micro, SequenceLength = TextLength, InputIds = ids, Labels = labels,
            ImageCount = _micro * _images, ImageSize = _imageSize, Pixels = pixels, ExampleIds = exampleIds,
        };
    }

    const long CaptionSampleMarker = OpenQwen2VL.Data.Packing.CaptionSampleBuilder.ImageMarker;

    static void Put(long[] ids, long[] labels, ref int pos, long id, bool target)
    {
        ids[pos] = id;
        labels[pos] = target ? id : DataBatch.IgnoreIndex;
        pos++;
    }

    public JsonNode SavePosition() => new JsonObject { ["micro_batches"] = _next };

    public void RestorePosition(JsonNode position) => _next = position["micro_batches"]!.GetValue<long>();

    public void Dispose() { }
}
