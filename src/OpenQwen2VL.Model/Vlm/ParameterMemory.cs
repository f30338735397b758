using System.Globalization;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// The parameter memory a config asks for, computed from its sizes before anything is allocated, and the refusal of a
/// model that cannot fit: a config (crafted, or simply too large for this machine) is one line, never a process that
/// allocates tens of GB and is killed.
/// </summary>
public static class ParameterMemory
{
    public static long Count(Qwen2Config c)
    {
        checked
        {
            long h = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
            long layer = h * q + q + 2 * (h * kv + kv) + q * h   // q, k, v (with biases), o
                + 3 * h * c.IntermediateSize + 2 * h;             // gate, up, down; two RMSNorms
            long embed = (long)c.VocabSize * h;
            return embed * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * layer + h;
        }
    }

    /// <summary>The backbone-mode tower (no last block, post-layernorm or head).</summary>
    public static long CountBackbone(SiglipVisionConfig c)
    {
        checked
        {
            long h = c.HiddenSize;
            long layer = 4 * (h * h + h) + 2 * h * c.IntermediateSize + c.IntermediateSize + h + 4 * h;
            return (long)c.NumChannels * c.PatchSize * c.PatchSize * h + h + c.NumPatches * h + (c.NumHiddenLayers - 1) * layer;
        }
    }

    public static long Count(VlmConfig c)
    {
        long dl = c.Llm.HiddenSize;
        return checked(Count(c.Llm) + CountBackbone(c.Vision) + c.Vision.HiddenSize * dl + dl + dl * dl + dl);
    }

    /// <summary>Refuses (<see cref="StageContractException"/>) a model whose parameters alone exceed the memory available now.</summary>
    public static void Require(long parameters, ScalarType dtype, string model)
    {
        long bytes = checked(parameters * ElementSize(dtype));
        long available = AvailableBytes();
        if (available > 0 && bytes > available)
            throw new StageContractException($"{model}: its config names {Billions(parameters)} parameters, {GiB(bytes)} in {dtype}, more than the {GiB(available)} of memory available: "
                + "check the config's sizes (a wrong or crafted config.json), or use --dtype bf16 or a machine with more memory");
    }

    /// <summary>Memory the process can still take: MemAvailable of /proc/meminfo, capped by the GC's limit (a container's); 0 when unknown.</summary>
    public static long AvailableBytes()
    {
        long gcLimit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long meminfo = MemAvailable();
        return (gcLimit, meminfo) switch
        {
            ( > 0, > 0) => Math.Min(gcLimit, meminfo),
            ( > 0, _) => gcLimit,
            _ => meminfo,
        };
    }

    private static long MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb) ? kb * 1024 : 0;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    private static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => 4,
    };

    private static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";
    private static string Billions(long n) => n >= 1_000_000_000 ? (n / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "B"
        : (n / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + "M";
}
