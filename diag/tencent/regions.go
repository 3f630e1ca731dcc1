package tencent

import "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/regions"

// Regions lists the region IDs the SDK knows. The list is static and may
// lag behind Tencent Cloud; configuration can name more.
func Regions() []string {
	return []string{
		regions.Bangkok, regions.Beijing, regions.Chengdu, regions.Chongqing, regions.Guangzhou,
		regions.GuangzhouOpen, regions.HongKong, regions.Jakarta, regions.Mumbai, regions.Seoul,
		regions.Shanghai, regions.Nanjing, regions.ShanghaiFSI, regions.ShenzhenFSI, regions.Singapore,
		regions.Tokyo, regions.Frankfurt, regions.Moscow, regions.Ashburn, regions.SiliconValley,
		regions.Toronto, regions.SaoPaulo,
	}
}
