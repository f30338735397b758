using CsCheck;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>SafetensorsWriter then SafetensorsFile gives back every tensor's dtype, shape, bytes and the metadata.</summary>
public sealed class SafetensorsRoundTripProperties
{
    private static readonly string[] DTypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

    private static readonly Gen<(string DType, long[] Shape, byte[] Data)> Tensor =
        from dtype in Gen.OneOf(DTypes)
        from shape in Gen.Frequency((1, Gen.Long[0, 0]), (6, Gen.Long[1, 5])).Array[0, 4] // rank 0 (a scalar) and zero-size dims
        from data in Gen.Byte.Array[(int)(shape.Aggregate(1L, (a, b) => a * b) * SafetensorsEntry.ElementSize(dtype))]
        select (dtype, shape, data);

    private static readonly Gen<(Dictionary<string, (string DType, long[] Shape, byte[] Data)> Tensors, Dictionary<string, string> Metadata)> File =
        from tensors in Gen.Dictionary(PropertyGen.Name(1, 12), Tensor)[0, 6]
        from metadata in Gen.Dictionary(PropertyGen.Text(8).Where(k => k.Length > 0), PropertyGen.Text(16))[0, 3]
        select (tensors, metadata);

    [Fact]
    public void WhatIsWrittenIsReadBack()
    {
        using var dir = new TempDir();
        int n = 0;
        File.Sample(f =>
        {
            var path = dir.File($"{Interlocked.Increment(ref n)}.safetensors");
            SafetensorsWriter.Write(path, f.Tensors.Select(kv => SafetensorsTensorSource.FromBytes(kv.Key, kv.Value.DType, kv.Value.Shape, kv.Value.Data)), f.Metadata);
            using (var file = SafetensorsFile.Open(path))
            {
                Assert.Equal(f.Tensors.Keys.Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
                foreach (var (name, t) in f.Tensors)
                {
                    var e = file[name];
                    Assert.Equal(t.DType, e.DType);
                    Assert.Equal(t.Shape, e.Shape);
                    Assert.Equal(t.Data, file.Bytes(e).ToArray());
                }
                Assert.Equal(f.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal), file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            }
            System.IO.File.Delete(path);
        }, iter: PropertyGen.Iterations);
    }
}
