using System.Runtime.CompilerServices;

// The tests compare the two BPE merge loops (scan and heap) directly.
[assembly: InternalsVisibleTo("OpenQwen2VL.Data.Tests")]
