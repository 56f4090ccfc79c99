"""MS-G3D Net (Liu et al., CVPR 2020) assembled from skelgraph's layers."""
