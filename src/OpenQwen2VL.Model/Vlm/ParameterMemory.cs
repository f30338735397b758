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

    /// <summary>
    /// Memory the process can still take, in bytes; 0 when unknown. Linux: MemAvailable of /proc/meminfo, capped by the
    /// cgroup v2 limit left (a container's memory.max - memory.current); elsewhere the GC's view of physical memory.
    /// (Not the GC's figure on Linux: a GCHeapHardLimit would cap it to the managed heap, while parameters are native.)
    /// </summary>
    public static long AvailableBytes()
    {
        long meminfo = ReadNumber("/proc/meminfo", "MemAvailable:") * 1024;
        if (meminfo <= 0) return Math.Max(0, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        long max = ReadNumber("/sys/fs/cgroup/memory.max", null), current = ReadNumber("/sys/fs/cgroup/memory.current", null);
        return max > 0 && current >= 0 ? Math.Min(meminfo, Math.Max(0, max - current)) : meminfo;
    }

    /// <summary>The first number of the line starting with <paramref name="key"/> (null: the file's first line); -1 when absent or not a number ("max").</summary>
    private static long ReadNumber(string file, string? key)
    {
        try
        {
            if (!File.Exists(file)) return -1;
            foreach (var line in File.ReadLines(file))
            {
                if (key is not null && !line.StartsWith(key, StringComparison.Ordinal)) continue;
                var text = key is null ? line.Trim() : line[key.Length..].Trim().Split(' ')[0];
                return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : -1;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return -1;
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
